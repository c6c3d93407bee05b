"""The turn gate across router processes: two gates sharing a session's lease in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from redis_server import RedisServer

from services.runtime import deadline
from services.runtime.errors import DeadlineExceeded, Unavailable
from services.session.config import SessionSettings
from services.session.turn_lock import RedisTurnLock
from services.session.turns import TurnGate, TurnInProgress

pytestmark = pytest.mark.asyncio

PREFIX = "turn-lock:"


@pytest_asyncio.fixture
async def routers(redis_server: RedisServer) -> AsyncIterator[list[TurnGate]]:
    """Two router processes' gates, each with its own Redis connection."""
    gates = [
        TurnGate(
            "queue",
            shared=RedisTurnLock(redis_server.url, lease_s=30, key_prefix=PREFIX, poll_s=0.005),
        )
        for _ in range(2)
    ]
    yield gates
    for gate in gates:
        await gate.close()
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()


class Turn:
    """A turn that holds its gate until released, logging what happens to it."""

    def __init__(self, gate: TurnGate, session_id: str, turn_id: str, log: list[str]) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.task = asyncio.create_task(self._run(gate, session_id, turn_id, log))

    async def _run(self, gate: TurnGate, session_id: str, turn_id: str, log: list[str]) -> None:
        async with gate.hold(session_id, turn_id):
            log.append(f"{turn_id} start")
            self.started.set()
            await self.release.wait()
            log.append(f"{turn_id} end")


async def test_a_turn_on_another_router_waits_for_the_running_one(
    routers: list[TurnGate], redis_server: RedisServer
) -> None:
    one, two = routers
    log: list[str] = []
    first = Turn(one, "s1", "t1", log)
    await first.started.wait()
    second = Turn(two, "s1", "t2", log)
    elsewhere = Turn(two, "s2", "u1", log)  # another session is not held up
    await elsewhere.started.wait()
    # t2 is polling Redis: it has not started while t1 holds the lease.
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.get(f"{PREFIX}turn-lease:{{s1}}").decode().startswith("t1/")
    await asyncio.sleep(0.05)
    assert "t2 start" not in log
    first.release.set()
    await second.started.wait()
    second.release.set()
    elsewhere.release.set()
    await asyncio.gather(first.task, second.task, elsewhere.task)
    assert log.index("t1 end") < log.index("t2 start")
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.keys(f"{PREFIX}*") == []  # every lease handed back


async def test_reject_refuses_a_turn_running_on_another_router_and_names_it(
    redis_server: RedisServer,
) -> None:
    gates = [
        TurnGate("reject", shared=RedisTurnLock(redis_server.url, lease_s=30, key_prefix=PREFIX))
        for _ in range(2)
    ]
    log: list[str] = []
    try:
        first = Turn(gates[0], "s1", "t1", log)
        await first.started.wait()
        with pytest.raises(TurnInProgress, match=r"\(t1, on another router\)"):
            async with gates[1].hold("s1", "t2"):
                pytest.fail("the second turn ran")
        first.release.set()
        await first.task
        async with gates[1].hold("s1", "t3"):  # free again once t1 is done
            log.append("t3 ran")
        assert log[-1] == "t3 ran"
    finally:
        for gate in gates:
            await gate.close()


async def test_a_waiting_turn_gives_up_at_its_deadline(routers: list[TurnGate]) -> None:
    one, two = routers
    first = Turn(one, "s1", "t1", [])
    await first.started.wait()
    with deadline.scope(0.1), pytest.raises(DeadlineExceeded, match="on another router"):
        async with two.hold("s1", "t2"):
            pytest.fail("the second turn ran")
    first.release.set()
    await first.task


async def test_a_crashed_routers_lease_frees_itself(redis_server: RedisServer) -> None:
    # A router that died holding the lease: the key is there with a short expiry, no one to
    # release it.
    lock = RedisTurnLock(redis_server.url, lease_s=0.2, key_prefix=PREFIX, poll_s=0.01)
    gate = TurnGate("queue", shared=lock)
    try:
        with redis.Redis.from_url(redis_server.url) as client:
            client.set(lock.key("s1"), "t-dead/0", px=200)
        async with gate.hold("s1", "t2"):
            assert await lock.holder("s1") == "t2"
    finally:
        await gate.close()


async def test_an_unreachable_redis_fails_the_turn_instead_of_running_it_unguarded(
    tmp_path: Path,
) -> None:
    gate = TurnGate("queue", shared=RedisTurnLock("redis://:pw@127.0.0.1:1/0", lease_s=5))
    try:
        with pytest.raises(Unavailable, match=r"turn lock in Redis at redis://:\*\*\*@127"):
            async with gate.hold("s1", "t1"):
                pytest.fail("the turn ran")
        assert gate.sessions == 0  # the process's own slot is left clean
    finally:
        await gate.close()


async def test_settings_choose_the_shared_lock(redis_server: RedisServer) -> None:
    process = TurnGate.from_settings(SessionSettings())
    assert process.shared is None
    shared = TurnGate.from_settings(
        SessionSettings(turn_lock="redis", redis_url=redis_server.url, turn_lock_lease_s=7)
    )
    try:
        assert isinstance(shared.shared, RedisTurnLock) and shared.shared.lease_s == 7
    finally:
        await shared.close()
