"""Faults downstream: every turn still ends, by its deadline, on a deterministic safe path."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc import aio
from harness import LoopThread, free_port, start_service

from services.mesh import Mesh
from services.router.service import RouterService
from services.runtime.server import GrpcServer
from switchboard.v1 import (
    common_pb2,
    events_pb2,
    planner_pb2_grpc,
    router_pb2,
    router_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)

QUESTION = "Is flight UA 123 on time?"


class HangingPlanner(planner_pb2_grpc.PlannerServiceServicer):
    """A planner that accepts calls and never answers."""

    async def Plan(self, request: Any, context: Any) -> Any:  # noqa: N802
        await asyncio.Event().wait()
        yield  # pragma: no cover - unreachable, makes this a stream handler

    async def Compose(self, request: Any, context: Any) -> Any:  # noqa: N802
        await asyncio.Event().wait()
        yield  # pragma: no cover


class HangingPlannerService:
    name = "planner"
    service_names = ("switchboard.v1.PlannerService",)

    def register(self, server: aio.Server) -> None:
        planner_pb2_grpc.add_PlannerServiceServicer_to_server(HangingPlanner(), server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def _dead_target() -> str:
    # A port that was free a moment ago and has nothing listening on it.
    return f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def hanging_planner(loop_thread: LoopThread) -> Iterator[GrpcServer]:
    server = start_service(loop_thread, HangingPlannerService())
    yield server
    loop_thread.run(server.stop())


def _router(loop_thread: LoopThread, mesh: Mesh, **targets: str) -> GrpcServer:
    settings = mesh.settings.model_copy(deep=True)
    settings.router.port = 0
    settings.router.turn_deadline_s = 3.0
    settings.router.understand_timeout_s = 1.0
    for name, target in targets.items():
        settings.service(name).address = target
    return start_service(loop_thread, RouterService(settings))


def _turn(router: GrpcServer, session_id: str) -> list[events_pb2.TurnEvent]:
    with grpc.insecure_channel(router.target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id=session_id, text=QUESTION)
        return [r.event for r in stub.SendTurn(request, timeout=20)]


def _assert_safe_ending(events: list[events_pb2.TurnEvent]) -> events_pb2.Fallback:
    order = [e.WhichOneof("event") for e in events]
    assert order[0] == "turn_started"
    assert order[-1] == "turn_completed" and order.count("turn_completed") == 1, order
    fallbacks = [e.fallback for e in events if e.WhichOneof("event") == "fallback"]
    assert fallbacks, order
    assert fallbacks[0].reason == events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN
    assert events[-1].turn_completed.reply, "the customer is told something"
    return fallbacks[0]


@pytest.mark.parametrize("which", ["planner", "tool_broker", "governance", "pii"])
def test_a_service_that_is_down_ends_the_turn_with_a_fallback(
    loop_thread: LoopThread, mesh: Mesh, which: str
) -> None:
    router = _router(loop_thread, mesh, **{which: _dead_target()})
    try:
        events = _turn(router, f"down-{which}")
    finally:
        loop_thread.run(router.stop())
    fallback = _assert_safe_ending(events)
    assert which.replace("_", "-") in fallback.detail


def test_a_hanging_planner_ends_the_turn_by_its_deadline(
    loop_thread: LoopThread, mesh: Mesh, hanging_planner: GrpcServer
) -> None:
    router = _router(loop_thread, mesh, planner=hanging_planner.target)
    try:
        events = _turn(router, "hang-1")
        with grpc.insecure_channel(router.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            transcript = stub.GetTranscript(
                router_pb2.GetTranscriptRequest(session_id="hang-1"), timeout=10
            )
    finally:
        loop_thread.run(router.stop())
    fallback = _assert_safe_ending(events)
    assert "time" in fallback.detail
    # The failed turn is recorded whole: one record, with its fallback, nothing half-written.
    (record,) = transcript.turns
    assert record.turn_id == events[0].turn_id
    assert [f.reason for f in record.fallbacks] == [events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN]
    assert record.reply_text == events[-1].turn_completed.reply


def test_a_session_store_that_is_down_is_not_written_and_the_turn_still_ends(
    loop_thread: LoopThread, mesh: Mesh
) -> None:
    router = _router(loop_thread, mesh, session=_dead_target())
    try:
        events = _turn(router, "no-session")
    finally:
        loop_thread.run(router.stop())
    _assert_safe_ending(events)
    assert events[-1].turn_completed.metadata.fields["persisted"].bool_value is False


def test_converse_cancels_a_running_turn(
    loop_thread: LoopThread, mesh: Mesh, hanging_planner: GrpcServer
) -> None:
    router = _router(loop_thread, mesh, planner=hanging_planner.target)
    outbox: queue.Queue[router_pb2.ConverseRequest | None] = queue.Queue()

    def requests() -> Iterator[router_pb2.ConverseRequest]:
        while (request := outbox.get()) is not None:
            yield request

    outbox.put(
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id="slow", session_id="cancel-1", text=QUESTION)
        )
    )
    events = []
    try:
        with grpc.insecure_channel(router.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            for response in stub.Converse(requests(), timeout=20):
                events.append(response.event)
                if response.event.WhichOneof("event") == "intent":
                    outbox.put(
                        router_pb2.ConverseRequest(cancel=router_pb2.ConverseCancel(turn_id="slow"))
                    )
                    outbox.put(None)
    finally:
        loop_thread.run(router.stop())
    order = [e.WhichOneof("event") for e in events]
    assert order[-1] == "error", order
    assert events[-1].error.code == "CANCELLED"
    assert "turn_completed" not in order


STORM = "My flight got cancelled because of the storm, get me on the next one"


def _mesh_turn(
    mesh: Mesh, session_id: str, text: str, customer: str = "C-1005"
) -> list[events_pb2.TurnEvent]:
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id=session_id, text=text, customer_id=customer)
        return [r.event for r in stub.SendTurn(request, timeout=30)]


def _waiting_plan(mesh: Mesh, session_id: str) -> common_pb2.Plan:
    with grpc.insecure_channel(mesh.target("session")) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        reply = stub.GetSession(session_pb2.GetSessionRequest(session_id=session_id), timeout=10)
    return reply.session.pending_plan


@pytest.mark.parametrize("broken", ["pii", "planner"])
def test_a_turn_that_fails_keeps_the_change_waiting_for_confirmation(
    loop_thread: LoopThread, mesh: Mesh, hanging_planner: GrpcServer, broken: str
) -> None:
    session_id = f"keep-waiting-{broken}"
    _mesh_turn(mesh, session_id, STORM)
    _mesh_turn(mesh, session_id, "please book DL2209 for me")  # the next day's, offered
    waiting = _waiting_plan(mesh, session_id)
    assert "rebookReservation" in [s.tool for s in waiting.steps], waiting
    # pii down fails the turn in its first stage (the session is never read); a hanging planner
    # fails it after the session was read. Neither is an answer to the question waiting.
    target = _dead_target() if broken == "pii" else hanging_planner.target
    router = _router(loop_thread, mesh, **{broken: target})
    try:
        with grpc.insecure_channel(router.target) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            request = router_pb2.SendTurnRequest(
                session_id=session_id,
                text="what is the checked baggage allowance?",
                customer_id="C-1005",
            )
            events = [r.event for r in stub.SendTurn(request, timeout=20)]
    finally:
        loop_thread.run(router.stop())
    _assert_safe_ending(events)
    assert events[-1].turn_completed.metadata.fields["persisted"].bool_value is True
    assert _waiting_plan(mesh, session_id) == waiting
    later = _mesh_turn(mesh, session_id, "did you manage to rebook me?")
    assert later[-1].turn_completed.reply.startswith("Not yet"), later[-1]
