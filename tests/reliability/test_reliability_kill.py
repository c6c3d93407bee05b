"""A service process killed (SIGKILL) in the middle of load: turns in flight end cleanly, the
router's events name the dependency that is down, and after the service is started again nothing
written is lost and new turns succeed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc import aio
from harness import LoopThread, start_service
from reliability_processes import ProcessMesh, process_mesh
from reliability_support import (
    FLIGHT_QUESTION,
    UTTERANCES,
    Turn,
    assert_ended_cleanly,
    send_turn,
)

from services.mesh import KUBE_NAMES, Mesh
from services.router.service import RouterService
from switchboard.v1 import events_pb2, planner_pb2, planner_pb2_grpc, router_pb2, router_pb2_grpc

TURN_DEADLINE_S = 5.0
HANG_GUARD_S = TURN_DEADLINE_S + 10.0


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessMesh]:
    overrides = {
        "SWITCHBOARD_ROUTER__TURN_DEADLINE_S": str(TURN_DEADLINE_S),
        "SWITCHBOARD_ROUTER__UNDERSTAND_TIMEOUT_S": "1.5",
    }
    with process_mesh(Path(tmp_path_factory.mktemp("killed")), overrides) as running:
        yield running


@dataclass
class Load:
    """Threads sending turns back to back until stopped; every turn is kept with when it started
    and when its stream closed."""

    target: str
    prefix: str
    turns: list[tuple[float, float, Turn]] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, threads: int = 3) -> None:
        for index in range(threads):
            thread = threading.Thread(target=self._drive, args=(index,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _drive(self, index: int) -> None:
        count = 0
        while not self.stopping.is_set() and count < 200:  # bounded, whatever happens
            text, customer = UTTERANCES[(index + count) % len(UTTERANCES)]
            session = f"{self.prefix}-{index}-{count}"
            started = time.monotonic()
            try:
                turn = send_turn(self.target, session, text, customer, timeout=HANG_GUARD_S)
            except grpc.RpcError as error:
                with self._lock:
                    self.hung.append(
                        f"{session} (started {started:.2f}, ended {time.monotonic():.2f}): "
                        f"{error.code()} {error.details()}"
                    )
            else:
                with self._lock:
                    self.turns.append((started, time.monotonic(), turn))
            count += 1

    def finished_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for started, _, _ in self.turns if started >= moment)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=HANG_GUARD_S + 5)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    # A hang guard around a state change; it polls, it does not assume a duration.
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(what)
        time.sleep(0.05)


def _transcript(target: str, session_id: str) -> router_pb2.GetTranscriptResponse:
    with grpc.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        response: router_pb2.GetTranscriptResponse = stub.GetTranscript(
            router_pb2.GetTranscriptRequest(session_id=session_id), timeout=10
        )
        return response


def _mentions(turn: Turn, service: str) -> bool:
    texts = [e.fallback.detail for e in turn.of("fallback")] + [
        e.error.message for e in turn.of("error")
    ]
    return any(service in text for text in texts)


def _healthy_turn(processes: ProcessMesh, session: str) -> Turn:
    """A flight-status turn once the restarted service is reachable again (channels reconnect
    with backoff, so the first turns may still find it down)."""
    for attempt in range(40):
        turn = send_turn(
            processes.target("router"), f"{session}-{attempt}", FLIGHT_QUESTION, "C-1001"
        )
        down = [
            e
            for e in turn.of("fallback")
            if e.fallback.reason == events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN
        ]
        if turn.kinds[-1] == "turn_completed" and not down:
            return turn
        time.sleep(0.25)
    raise AssertionError(f"no healthy turn after the restart; last: {turn.kinds}")


@pytest.mark.timeout(240)  # the first one also starts the seven processes
@pytest.mark.parametrize(
    "service",
    [
        "planner",
        "tool_broker",
        "session",
    ],
)
def test_a_killed_service_ends_turns_cleanly_and_loses_nothing(
    processes: ProcessMesh, service: str
) -> None:
    router = processes.target("router")
    kube = KUBE_NAMES[service]

    # Sessions completed before the kill, and what their transcripts hold.
    before = {
        f"before-{kube}-{i}": send_turn(router, f"before-{kube}-{i}", FLIGHT_QUESTION)
        for i in range(3)
    }
    for turn in before.values():
        assert turn.kinds[-1] == "turn_completed", turn.kinds
    written = {session: _transcript(router, session) for session in before}

    load = Load(router, f"load-{kube}")
    load.start()
    try:
        _wait_for(lambda: load.finished_since(0) >= 3, 60, "no turn finished under load")
        killed_at = time.monotonic()
        processes.kill(service)
        print(f"killed {kube} at {killed_at:.2f}")
        _wait_for(
            lambda: load.finished_since(killed_at + 0.5) >= 3,
            3 * HANG_GUARD_S,
            "turns stopped ending after the kill",
        )
    finally:
        load.stop()

    assert not load.hung, (load.hung, processes.log_tail("router"))
    for _, _, turn in load.turns:
        assert_ended_cleanly(turn)
    after_kill = [turn for started, _, turn in load.turns if started >= killed_at + 0.5]
    assert after_kill
    for turn in after_kill:
        if service == "session":
            # Without the store the turn still runs; it says it could not be recorded.
            assert turn.last.turn_completed.metadata.fields["persisted"].bool_value is False
        for event in turn.of("fallback"):
            if event.fallback.reason == events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN:
                assert event.fallback.detail, "a dependency-down fallback names what is down"
    # The router says which dependency is down.
    assert any(_mentions(turn, kube) for turn in after_kill), [
        [(e.fallback.detail, e.error.message) for e in t.of("fallback") + t.of("error")]
        for t in after_kill
    ]
    reasons = {e.fallback.reason for t in after_kill for e in t.of("fallback")}
    assert events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN in reasons, reasons

    processes.restart(service)
    healthy = _healthy_turn(processes, f"after-{kube}")
    assert not healthy.of("error")

    # Nothing written before the kill is lost: the transcripts read before it are unchanged ...
    for session, transcript in written.items():
        again = _transcript(router, session)
        assert again == transcript, session
        assert [t.turn_id for t in again.turns] == [before[session].events[0].turn_id]
    # ... and so is every turn under load whose stream closed before the kill saying it was kept.
    kept = [
        turn
        for _, ended, turn in load.turns
        if ended < killed_at and turn.last.turn_completed.metadata.fields["persisted"].bool_value
    ]
    assert kept, "no turn under load was written before the kill"
    for turn in kept:
        again = _transcript(router, turn.events[0].turn_started.session_id)
        assert [t.turn_id for t in again.turns] == [turn.events[0].turn_id]
    # The turn after the restart is recorded.
    recorded = _transcript(router, healthy.of("turn_started")[0].turn_started.session_id)
    assert [t.turn_id for t in recorded.turns] == [healthy.events[0].turn_id]


class PlannerDyingInCompose(planner_pb2_grpc.PlannerServiceServicer):
    """Plans with the real planner, then fails the Compose stream after its first piece, as a
    planner process killed mid-reply does."""

    def __init__(self, target: str) -> None:
        self.target = target

    async def Plan(self, request: Any, context: Any) -> Any:  # noqa: N802
        async with aio.insecure_channel(self.target) as channel:
            async for item in planner_pb2_grpc.PlannerServiceStub(channel).Plan(request):
                yield item

    async def Compose(self, request: Any, context: Any) -> Any:  # noqa: N802
        yield planner_pb2.ComposeResponse(text_delta="Let me check that ")
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the planner went away")


class PlannerDyingInComposeService:
    name = "planner"

    def __init__(self, target: str) -> None:
        self.service_names: Sequence[str] = ("switchboard.v1.PlannerService",)
        self.servicer = PlannerDyingInCompose(target)

    def register(self, server: aio.Server) -> None:
        planner_pb2_grpc.add_PlannerServiceServicer_to_server(self.servicer, server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def test_a_planner_failing_mid_reply_ends_the_turn_with_a_fallback(
    loop_thread: LoopThread, mesh: Mesh
) -> None:
    planner = start_service(loop_thread, PlannerDyingInComposeService(mesh.target("planner")))
    settings = mesh.settings.model_copy(deep=True)
    settings.router.port = 0
    settings.router.turn_deadline_s = TURN_DEADLINE_S
    settings.planner.address = planner.target
    router = start_service(loop_thread, RouterService(settings))
    try:
        turn = send_turn(router.target, "compose-dies", FLIGHT_QUESTION, "C-1001", HANG_GUARD_S)
    finally:
        loop_thread.run(router.stop())
        loop_thread.run(planner.stop())
    assert_ended_cleanly(turn)
    assert _mentions(turn, "planner"), turn.kinds
