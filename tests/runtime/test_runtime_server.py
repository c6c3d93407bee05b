"""The shared server bootstrap: health, reflection, error mapping, deadline propagation."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from harness import LoopThread

from services.runtime import deadline
from services.runtime.errors import Aborted, InvalidArgument
from services.runtime.server import GrpcServer
from switchboard.v1 import pii_pb2, pii_pb2_grpc

SERVICE = "switchboard.v1.PiiService"


class ProbeServicer(pii_pb2_grpc.PiiServiceServicer):
    """Answers according to the request, to exercise the bootstrap."""

    async def Redact(self, request: Any, context: Any) -> pii_pb2.RedactResponse:  # noqa: N802
        if request.text == "invalid":
            raise InvalidArgument("text is not acceptable here")
        if request.text == "aborted":
            raise Aborted("session s1 is at version 4, write was based on 3")
        if request.text == "crash":
            raise ValueError("a bug")
        if request.text == "deadline":
            left = deadline.remaining()
            return pii_pb2.RedactResponse(text="none" if left is None else f"{left:.3f}")
        return pii_pb2.RedactResponse(text=request.text.upper())


class ProbeService:
    name = "probe"
    service_names = (SERVICE,)

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.stopped = False

    def register(self, server: aio.Server) -> None:
        pii_pb2_grpc.add_PiiServiceServicer_to_server(ProbeServicer(), server)

    async def start(self) -> None:
        await self.release.wait()

    async def stop(self) -> None:
        self.stopped = True


def _health(target: str, service: str = "") -> int:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return int(reply.status)


@pytest.fixture
def probe(loop_thread: LoopThread) -> Any:
    service = ProbeService()
    server = GrpcServer(service, "127.0.0.1", 0, stop_grace_s=0.2)
    starting = asyncio.run_coroutine_threadsafe(server.start(), loop_thread.loop)
    yield service, server, starting
    loop_thread.loop.call_soon_threadsafe(service.release.set)
    starting.result(10)
    loop_thread.run(server.stop())


def _wait_for_port(server: GrpcServer) -> None:
    import time

    end = time.monotonic() + 10
    while server.port == 0 and time.monotonic() < end:
        time.sleep(0.01)
    assert server.port, "server never bound"


def test_health_is_not_serving_until_ready_then_serving_then_not_on_stop(
    loop_thread: LoopThread, probe: Any
) -> None:
    service, server, starting = probe
    _wait_for_port(server)
    # The service's start work is blocked: the server listens but must not claim readiness.
    assert _health(server.target) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert _health(server.target, SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
    loop_thread.loop.call_soon_threadsafe(service.release.set)
    starting.result(10)
    assert _health(server.target) == health_pb2.HealthCheckResponse.SERVING
    assert _health(server.target, SERVICE) == health_pb2.HealthCheckResponse.SERVING
    loop_thread.run(server.stop())
    assert service.stopped


def test_reflection_lists_the_service_and_health(loop_thread: LoopThread, probe: Any) -> None:
    service, server, starting = probe
    loop_thread.loop.call_soon_threadsafe(service.release.set)
    starting.result(10)
    with grpc.insecure_channel(server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for r in replies for s in r.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("invalid", grpc.StatusCode.INVALID_ARGUMENT, "text is not acceptable here"),
        ("aborted", grpc.StatusCode.ABORTED, "version 4"),
        ("crash", grpc.StatusCode.INTERNAL, "internal error in /switchboard.v1.PiiService/Redact"),
    ],
)
def test_errors_map_to_statuses_with_their_message(
    loop_thread: LoopThread, probe: Any, text: str, code: grpc.StatusCode, message: str
) -> None:
    service, server, starting = probe
    loop_thread.loop.call_soon_threadsafe(service.release.set)
    starting.result(10)
    with grpc.insecure_channel(server.target) as channel:
        stub = pii_pb2_grpc.PiiServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Redact(pii_pb2.RedactRequest(session_id="s", text=text), timeout=5)
    assert raised.value.code() == code
    assert message in raised.value.details()
    assert "a bug" not in raised.value.details()


def test_the_callers_deadline_is_current_in_the_handler(
    loop_thread: LoopThread, probe: Any
) -> None:
    service, server, starting = probe
    loop_thread.loop.call_soon_threadsafe(service.release.set)
    starting.result(10)
    with grpc.insecure_channel(server.target) as channel:
        stub = pii_pb2_grpc.PiiServiceStub(channel)
        bounded = stub.Redact(pii_pb2.RedactRequest(session_id="s", text="deadline"), timeout=3)
        unbounded = stub.Redact(pii_pb2.RedactRequest(session_id="s", text="deadline"))
    assert 0 < float(bounded.text) <= 3.5  # the server measures from a moment after the client
    assert unbounded.text == "none"
