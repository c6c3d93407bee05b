"""RouterService: maps the public API onto turns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from grpc import aio

from services.router import validation
from services.router.events import EventFactory
from services.router.peers import DependencyFailure, Peers, unary
from services.router.turn import TurnInput, TurnRunner
from services.runtime.errors import (
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    SwitchboardError,
    Unavailable,
)
from services.session.turns import TurnGate
from switchboard.v1 import events_pb2, router_pb2, session_pb2

log = logging.getLogger(__name__)

SERVICE_NAME = "switchboard.v1.RouterService"


@dataclass(frozen=True)
class Undecodable:
    """A request that did not parse, such as one whose text is not valid UTF-8."""

    message_type: str
    reason: str


def _lenient(message_type: type[Message]) -> Any:
    # Protobuf refuses invalid UTF-8 in string fields while parsing, before any handler runs,
    # and gRPC would answer INTERNAL. Parsing here lets the handler answer INVALID_ARGUMENT.
    def deserialize(data: bytes) -> Message | Undecodable:
        try:
            return message_type.FromString(data)
        except DecodeError as error:
            return Undecodable(message_type.DESCRIPTOR.name, str(error))

    return deserialize


def _undecodable(request: Undecodable) -> InvalidArgument:
    return InvalidArgument(
        f"the request is not a valid {request.message_type}: {request.reason} "
        "(strings must be valid UTF-8)"
    )


class RouterServicer:
    """The public API."""

    def __init__(self, *, max_text_chars: int, max_turns: int, gate: TurnGate) -> None:
        self.gate = gate
        self.runner: TurnRunner | None = None
        self.peers: Peers | None = None
        self.max_text_chars = max_text_chars
        self.max_turns = max_turns
        self._running = 0

    def handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        """The service's method handlers, parsing requests leniently."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "SendTurn": grpc.unary_stream_rpc_method_handler(
                    self.SendTurn,
                    _lenient(router_pb2.SendTurnRequest),
                    router_pb2.SendTurnResponse.SerializeToString,
                ),
                "Converse": grpc.stream_stream_rpc_method_handler(
                    self.Converse,
                    _lenient(router_pb2.ConverseRequest),
                    router_pb2.ConverseResponse.SerializeToString,
                ),
                "GetTranscript": grpc.unary_unary_rpc_method_handler(
                    self.GetTranscript,
                    _lenient(router_pb2.GetTranscriptRequest),
                    router_pb2.GetTranscriptResponse.SerializeToString,
                ),
            },
        )

    def _admit(self) -> None:
        if self.runner is None:
            raise Unavailable("the router is starting; retry shortly")
        if self._running >= self.max_turns:
            raise ResourceExhausted(
                f"the router is running {self._running} turns, its limit; retry shortly"
            )

    async def _run(self, turn: TurnInput, emit: Any) -> None:
        assert self.runner is not None
        self._running += 1
        try:
            # One turn of a session at a time: the gate queues (or refuses) the second.
            async with self.gate.hold(turn.session_id, turn.turn_id):
                await self.runner.run(turn, emit)
        finally:
            self._running -= 1

    async def SendTurn(  # noqa: N802 - gRPC method name
        self,
        request: router_pb2.SendTurnRequest | Undecodable,
        context: aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[router_pb2.SendTurnResponse]:
        if isinstance(request, Undecodable):
            raise _undecodable(request)
        turn = validation.turn_input(
            session_id=request.session_id,
            text=request.text,
            channel=request.channel,
            customer_id=request.customer_id,
            max_text_chars=self.max_text_chars,
        )
        self._admit()
        events: asyncio.Queue[events_pb2.TurnEvent | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                await self._run(turn, events.put)
            finally:
                events.put_nowait(None)

        task = asyncio.create_task(produce())
        try:
            while (event := await events.get()) is not None:
                yield router_pb2.SendTurnResponse(event=event)
            await task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def Converse(  # noqa: N802 - gRPC method name
        self,
        requests: AsyncIterator[router_pb2.ConverseRequest | Undecodable],
        context: aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[router_pb2.ConverseResponse]:
        events: asyncio.Queue[events_pb2.TurnEvent | None] = asyncio.Queue()
        running: dict[str, asyncio.Task[None]] = {}

        async def closing(turn_id: str, error: SwitchboardError) -> None:
            await events.put(EventFactory(turn_id, "").error(error.status, error.message))

        async def run_one(turn: TurnInput) -> None:
            try:
                await self._run(turn, events.put)
            except asyncio.CancelledError:
                await events.put(
                    EventFactory(turn.turn_id, "").error("CANCELLED", "the client cancelled")
                )
            except SwitchboardError as error:
                await closing(turn.turn_id, error)
            finally:
                running.pop(turn.turn_id, None)

        async def read() -> None:
            async for request in requests:
                if isinstance(request, Undecodable):
                    await closing("", _undecodable(request))
                    continue
                action = request.WhichOneof("action")
                if action == "cancel":
                    task = running.get(request.cancel.turn_id)
                    if task is not None:
                        task.cancel()
                    continue
                if action != "turn":
                    await closing("", InvalidArgument("a ConverseRequest needs a turn or cancel"))
                    continue
                item = request.turn
                try:
                    turn = validation.turn_input(
                        session_id=item.session_id,
                        text=item.text,
                        channel=item.channel,
                        customer_id=item.customer_id,
                        max_text_chars=self.max_text_chars,
                        turn_id=item.turn_id,
                    )
                    if turn.turn_id in running:
                        raise InvalidArgument(f"turn {turn.turn_id} is already running")
                    self._admit()
                except SwitchboardError as error:
                    await closing(item.turn_id, error)
                    continue
                running[turn.turn_id] = asyncio.create_task(run_one(turn))
            # The client closed its side: finish the turns it started, then close ours.
            while running:
                await asyncio.gather(*running.values(), return_exceptions=True)
            await events.put(None)

        reader = asyncio.create_task(read())
        try:
            while (event := await events.get()) is not None:
                yield router_pb2.ConverseResponse(event=event)
            await reader
        finally:
            for task in [reader, *running.values()]:
                task.cancel()
            await asyncio.gather(reader, *running.values(), return_exceptions=True)

    async def GetTranscript(  # noqa: N802 - gRPC method name
        self,
        request: router_pb2.GetTranscriptRequest | Undecodable,
        context: aio.ServicerContext[Any, Any],
    ) -> router_pb2.GetTranscriptResponse:
        if isinstance(request, Undecodable):
            raise _undecodable(request)
        validation.check_session_id(request.session_id)
        if self.peers is None:
            raise Unavailable("the router is starting; retry shortly")
        response = router_pb2.GetTranscriptResponse(session_id=request.session_id)
        token = ""
        while True:
            try:
                page = await unary(
                    "session",
                    self.peers.session.ListTurns(
                        session_pb2.ListTurnsRequest(
                            session_id=request.session_id, page_size=1000, page_token=token
                        )
                    ),
                )
            except DependencyFailure as failure:
                if failure.code == "NOT_FOUND":
                    raise NotFound(f"no session {request.session_id!r}") from None
                if failure.code == "INVALID_ARGUMENT":
                    raise InvalidArgument(failure.details) from None
                raise Unavailable(f"the session store is unavailable: {failure.details}") from None
            response.turns.extend(page.turns)
            token = page.next_page_token
            if not token:
                return response
