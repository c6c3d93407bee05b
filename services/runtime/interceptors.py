"""gRPC interceptors every service and client shares.

Server side, :class:`ServerContextInterceptor` is the one place where errors become statuses and
where the incoming deadline is made current for everything the handler calls. Client side,
:class:`DeadlineClientInterceptor` gives every outgoing call the smaller of its own timeout and
what is left of the current deadline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from services.runtime import deadline
from services.runtime.errors import SwitchboardError

log = logging.getLogger(__name__)


def _status(error: SwitchboardError) -> grpc.StatusCode:
    return grpc.StatusCode[error.status]


async def _abort(context: aio.ServicerContext[Any, Any], error: BaseException, method: str) -> None:
    if isinstance(error, SwitchboardError):
        await context.abort(_status(error), error.message)
    log.exception("unhandled error in %s", method, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}")


def _deadline_seconds(context: aio.ServicerContext[Any, Any]) -> float | None:
    left = context.time_remaining()
    return left if left is not None and left < 1e9 else None


class ServerContextInterceptor(aio.ServerInterceptor):  # type: ignore[type-arg]
    """Maps SwitchboardError to its status, anything else to INTERNAL, and scopes the deadline."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                _wrap_stream(handler.stream_stream, method),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return handler


def _wrap_unary(behavior: Any, method: str) -> Any:
    async def wrapper(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        deadline.begin_request(_deadline_seconds(context))
        try:
            return await behavior(request, context)
        except aio.AbortError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure must become a status
            await _abort(context, error, method)

    return wrapper


def _wrap_stream(behavior: Any, method: str) -> Any:
    async def wrapper(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        deadline.begin_request(_deadline_seconds(context))
        try:
            async for response in behavior(request, context):
                yield response
        except aio.AbortError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure must become a status
            await _abort(context, error, method)

    return wrapper


def _with_deadline(details: aio.ClientCallDetails) -> aio.ClientCallDetails:
    left = deadline.timeout(details.timeout)
    # A bounded call waits for a peer that is reconnecting (a restart, a rolling update) instead
    # of failing at once; its deadline still ends the wait.
    ready = details.wait_for_ready
    if ready is None and left is not None:
        ready = True
    if left == details.timeout and ready == details.wait_for_ready:
        return details
    return aio.ClientCallDetails(details.method, left, details.metadata, details.credentials, ready)


class DeadlineClientInterceptor(
    aio.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    aio.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
    aio.StreamUnaryClientInterceptor,  # type: ignore[type-arg]
    aio.StreamStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Bounds every outgoing call by the current request's deadline."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_deadline(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_deadline(details), request)

    async def intercept_stream_unary(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_deadline(details), request_iterator)

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_deadline(details), request_iterator)
