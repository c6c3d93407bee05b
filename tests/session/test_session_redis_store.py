"""What only the Redis store does: the atomic script, key expiry, and reaching the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis
from redis_server import RedisServer

from services.runtime.errors import Aborted, Unavailable
from services.session.redis_store import RedisSessionStore, redact_url
from services.session.sessions import Sessions
from services.session.state import TurnWrite, apply_turn, new_session
from switchboard.v1 import session_pb2

PREFIX = "redis-only:"


@pytest_asyncio.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisSessionStore]:
    opened = RedisSessionStore(redis_server.url, ttl_s=600, key_prefix=PREFIX)
    await opened.open()
    yield opened
    await opened.close()
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()


def completed(turn_id: str) -> session_pb2.TurnRecord:
    return session_pb2.TurnRecord(turn_id=turn_id, status=session_pb2.TURN_STATUS_COMPLETED)


@pytest.mark.asyncio
async def test_the_script_refuses_a_write_when_the_version_moved_after_the_read(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    await Sessions(store, history_turns=5).append("s1", 0, TurnWrite(turn=completed("t1")))

    def transition_while_another_writer_commits(
        current: session_pb2.Session | None,
    ) -> session_pb2.Session:
        # Another replica commits version 2 between this writer's read and its script.
        with redis.Redis.from_url(redis_server.url) as other:
            other.hset(f"{PREFIX}{{s1}}:state", "version", 2)
        assert current is not None
        return apply_turn(current, TurnWrite(turn=completed("t2")), 0.0, 5)

    with pytest.raises(Aborted, match="session s1 is at version 2, write was based on 1"):
        await store.append("s1", 1, completed("t2"), transition_while_another_writer_commits)

    assert [t.turn_id for t in await store.list_turns("s1", 0, 10) or []] == ["t1"]


@pytest.mark.asyncio
async def test_every_key_of_a_session_expires_together(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    await Sessions(store, history_turns=5).append("s1", 0, TurnWrite(turn=completed("t1")))

    with redis.Redis.from_url(redis_server.url) as client:
        keys = sorted(k.decode() for k in client.keys(f"{PREFIX}*"))
        ttls = [client.pttl(key) for key in keys]
    assert keys == [f"{PREFIX}{{s1}}:state", f"{PREFIX}{{s1}}:turn_ids", f"{PREFIX}{{s1}}:turns"]
    assert all(0 < ttl <= 600_000 for ttl in ttls)


@pytest.mark.asyncio
async def test_create_stores_an_expiring_empty_session(
    store: RedisSessionStore, redis_server: RedisServer
) -> None:
    session, created = await store.create(new_session("s1", 1_700_000_000.0))
    again, created_again = await store.create(new_session("s1", 1_800_000_000.0))

    assert created and not created_again and again == session
    with redis.Redis.from_url(redis_server.url) as client:
        assert 0 < client.pttl(f"{PREFIX}{{s1}}:state") <= 600_000


@pytest.mark.asyncio
async def test_an_unreachable_server_fails_at_open_without_showing_the_password(
    tmp_path: Path,
) -> None:
    store = RedisSessionStore("redis://app:s3cret@127.0.0.1:1/0", ttl_s=60)
    with pytest.raises(Unavailable, match="cannot reach Redis") as failed:
        await store.open()
    assert "s3cret" not in failed.value.message
    assert "app:***@127.0.0.1:1" in failed.value.message


def test_redact_url_keeps_urls_without_a_password() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("rediss://:pw@cache:6380/1") == "rediss://:***@cache:6380/1"


@pytest.mark.asyncio
async def test_losing_the_server_is_unavailable_and_recovers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    own = RedisServer(tmp_path_factory.mktemp("redis-down"))
    own.start()
    store = RedisSessionStore(own.url, ttl_s=600)
    await store.open()
    try:
        await Sessions(store, history_turns=5).append("s1", 0, TurnWrite(turn=completed("t1")))
        own.stop()
        with pytest.raises(Unavailable, match="Redis at redis://127.0.0.1:.* failed"):
            await store.get("s1")
        own.restart()
        session = await store.get("s1")
        assert session is not None and session.version == 1
    finally:
        await store.close()
        own.stop()
