"""What only the SQLite store does: WAL on a file in the data folder, and purging expired rows."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from services.runtime.errors import NotFound, Unavailable
from services.session.sessions import Sessions
from services.session.sqlite_store import SqliteSessionStore
from services.session.state import TurnWrite
from switchboard.v1 import session_pb2

pytestmark = pytest.mark.asyncio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def completed(turn_id: str) -> TurnWrite:
    return TurnWrite(
        turn=session_pb2.TurnRecord(
            turn_id=turn_id, customer_text="hi", status=session_pb2.TURN_STATUS_COMPLETED
        )
    )


def rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        count: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return count


async def test_the_database_is_created_in_wal_mode_with_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "sessions.db"
    store = SqliteSessionStore(path, ttl_s=60)
    await store.open()
    try:
        await Sessions(store, history_turns=5).append("s1", 0, completed("t1"))
    finally:
        await store.close()

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert rows(path, "sessions") == 1 and rows(path, "turns") == 1


async def test_purge_deletes_only_expired_sessions_and_their_turns(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    clock = FakeClock()
    store = SqliteSessionStore(path, ttl_s=100, clock=clock)
    sessions = Sessions(store, history_turns=5, clock=clock)
    await store.open()
    try:
        await sessions.append("old", 0, completed("t1"))
        await sessions.append("old", 1, completed("t2"))
        clock.now += 60
        await sessions.append("recent", 0, completed("t1"))
        clock.now += 50  # "old" was last written 110 s ago, "recent" 50 s ago

        with pytest.raises(NotFound):
            await sessions.get("old", create=False)
        assert rows(path, "turns") == 3  # expired rows are invisible before they are purged

        assert await store.purge_expired() == 1
        assert await store.purge_expired() == 0
        assert rows(path, "sessions") == 1 and rows(path, "turns") == 1
        assert (await sessions.get("recent", create=False))[0].version == 1
    finally:
        await store.close()


async def test_a_write_extends_the_retention(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SqliteSessionStore(tmp_path / "sessions.db", ttl_s=100, clock=clock)
    sessions = Sessions(store, history_turns=5, clock=clock)
    await store.open()
    try:
        await sessions.append("s1", 0, completed("t1"))
        clock.now += 90
        await sessions.append("s1", 1, completed("t2"))
        clock.now += 90
        session, _ = await sessions.get("s1", create=False)
        assert session.version == 2
        assert session.updated_at.ToNanoseconds() == round((clock.now - 90) * 1e9)
    finally:
        await store.close()


async def test_an_unusable_path_fails_at_open(tmp_path: Path) -> None:
    (tmp_path / "sessions.db").mkdir()
    store = SqliteSessionStore(tmp_path / "sessions.db", ttl_s=60)
    with pytest.raises(Unavailable, match="cannot open session database"):
        await store.open()


async def test_a_closed_store_is_unavailable(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "sessions.db", ttl_s=60)
    with pytest.raises(Unavailable, match="not open"):
        await store.get("s1")


async def test_a_write_that_fails_midway_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    clock = FakeClock()
    store = SqliteSessionStore(path, ttl_s=100, clock=clock)
    await store.open()
    try:
        await Sessions(store, history_turns=5, clock=clock).append("s1", 0, completed("t1"))
        clock.now += 200  # expired: the write below first erases the old rows, then fails

        def failing(current: session_pb2.Session | None) -> session_pb2.Session:
            raise RuntimeError("the transition failed")

        with pytest.raises(RuntimeError, match="the transition failed"):
            await store.append("s1", 0, completed("t2").turn, failing)

        assert rows(path, "sessions") == 1 and rows(path, "turns") == 1
    finally:
        await store.close()


async def test_a_cancelled_write_leaves_the_store_usable(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "sessions.db", ttl_s=100)
    sessions = Sessions(store, history_turns=5)
    await store.open()
    try:
        # Cancelled at every await in turn: before BEGIN runs, inside the transaction, at COMMIT.
        for steps in range(8):
            task = asyncio.create_task(sessions.append("s1", 0, completed("t1")))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if task.cancelled():
                await store.delete("s1")  # the store must still take transactions
        session = await sessions.append("s1", 0, completed("t1"))
        assert session.version == 1
    finally:
        await store.close()
