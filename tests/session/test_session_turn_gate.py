"""The concurrent-turn strategies: queue (one after another) and reject (ABORTED)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.runtime import deadline
from services.runtime.errors import Aborted, DeadlineExceeded, ResourceExhausted
from services.session.config import SessionSettings
from services.session.turns import TurnGate, TurnInProgress

pytestmark = pytest.mark.asyncio


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds; fail (not hang) if it never does."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("condition never held")


class Turn:
    """A turn that holds the gate until released, logging what happens to it."""

    def __init__(self, gate: TurnGate, session_id: str, turn_id: str, log: list[str]) -> None:
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._run(gate, session_id, turn_id, log))

    async def _run(self, gate: TurnGate, session_id: str, turn_id: str, log: list[str]) -> None:
        async with gate.hold(session_id, turn_id):
            log.append(f"{turn_id} start")
            await self.release.wait()
            log.append(f"{turn_id} end")


async def test_queue_runs_turns_of_one_session_one_after_another_in_order() -> None:
    gate = TurnGate("queue", max_queued=4)
    log: list[str] = []
    first = Turn(gate, "s1", "t1", log)
    await until(lambda: log == ["t1 start"])
    second = Turn(gate, "s1", "t2", log)
    third = Turn(gate, "s1", "t3", log)
    await until(lambda: gate.waiting("s1") == 2)

    third.release.set()  # t3 may not run before t1 and t2, even when it is ready first
    second.release.set()
    assert log == ["t1 start"]
    first.release.set()
    await asyncio.gather(first.task, second.task, third.task)

    assert log == ["t1 start", "t1 end", "t2 start", "t2 end", "t3 start", "t3 end"]
    assert gate.sessions == 0 and not gate.busy("s1")


async def test_queue_lets_different_sessions_run_at_once() -> None:
    gate = TurnGate("queue")
    log: list[str] = []
    one = Turn(gate, "s1", "t1", log)
    two = Turn(gate, "s2", "t1", log)
    await until(lambda: len(log) == 2)

    assert gate.busy("s1") and gate.busy("s2") and gate.sessions == 2
    one.release.set()
    two.release.set()
    await asyncio.gather(one.task, two.task)
    assert gate.sessions == 0


async def test_queue_refuses_more_waiting_turns_than_allowed() -> None:
    gate = TurnGate("queue", max_queued=1)
    log: list[str] = []
    running = Turn(gate, "s1", "t1", log)
    waiting = Turn(gate, "s1", "t2", log)
    await until(lambda: gate.waiting("s1") == 1)

    with pytest.raises(ResourceExhausted, match="session s1 already has 1 turns waiting"):
        async with gate.hold("s1", "t3"):
            pytest.fail("a third turn must not run")

    running.release.set()
    waiting.release.set()
    await asyncio.gather(running.task, waiting.task)
    assert log == ["t1 start", "t1 end", "t2 start", "t2 end"]


async def test_a_queued_turn_gives_up_at_its_deadline_and_leaves_the_queue() -> None:
    gate = TurnGate("queue")
    log: list[str] = []
    running = Turn(gate, "s1", "t1", log)
    await until(lambda: gate.busy("s1"))

    with deadline.scope(0.05), pytest.raises(DeadlineExceeded, match="waiting for the previous"):
        async with gate.hold("s1", "t2"):
            pytest.fail("the turn must not run after its deadline")

    assert gate.waiting("s1") == 0
    running.release.set()
    await running.task
    assert gate.sessions == 0


async def test_a_cancelled_waiting_turn_leaves_the_queue() -> None:
    gate = TurnGate("queue")
    log: list[str] = []
    running = Turn(gate, "s1", "t1", log)
    await until(lambda: gate.busy("s1"))
    waiting = Turn(gate, "s1", "t2", log)
    await until(lambda: gate.waiting("s1") == 1)

    waiting.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting.task

    assert gate.waiting("s1") == 0
    running.release.set()
    await running.task
    assert log == ["t1 start", "t1 end"] and gate.sessions == 0


async def test_a_failing_turn_releases_the_gate() -> None:
    gate = TurnGate("queue")
    with pytest.raises(RuntimeError, match="boom"):
        async with gate.hold("s1", "t1"):
            raise RuntimeError("boom")

    async with gate.hold("s1", "t2"):
        assert gate.busy("s1")
    assert gate.sessions == 0


async def test_reject_refuses_a_second_turn_with_aborted_naming_the_running_one() -> None:
    gate = TurnGate("reject")
    log: list[str] = []
    running = Turn(gate, "s1", "t1", log)
    await until(lambda: gate.busy("s1"))

    with pytest.raises(TurnInProgress) as refused:
        async with gate.hold("s1", "t2"):
            pytest.fail("a second turn must not run")
    assert isinstance(refused.value, Aborted) and refused.value.status == "ABORTED"
    assert "session s1 already has a turn in progress (t1)" in refused.value.message

    async with gate.hold("s2", "t1"):  # other sessions are not affected
        pass
    running.release.set()
    await running.task
    async with gate.hold("s1", "t3"):  # once the turn has finished, the session is free
        log.append("t3 ran")
    assert log == ["t1 start", "t1 end", "t3 ran"]


async def test_the_gate_follows_the_session_settings() -> None:
    gate = TurnGate.from_settings(SessionSettings(concurrent_turns="reject", max_queued_turns=7))
    assert (gate.strategy, gate.max_queued) == ("reject", 7)
    assert TurnGate.from_settings(SessionSettings()).strategy == "queue"
    with pytest.raises(ValueError, match="unknown concurrent-turn strategy"):
        TurnGate("drop")  # type: ignore[arg-type]
