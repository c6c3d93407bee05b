"""The embedded session store: one SQLite file in the data folder.

The database runs in WAL mode, so readers never block the writer and a crash cannot leave a
half-applied transaction. ``synchronous=FULL`` (the default) syncs the WAL on every commit: an
AppendTurn that returned OK is on disk even after a power loss. ``NORMAL`` only syncs at
checkpoints, which keeps the database consistent but may drop the last acknowledged turns; it is
offered for hosts where that trade is acceptable. The cost of FULL is one fsync per turn.

Writes use ``BEGIN IMMEDIATE``: the write lock is taken before the version is read, so the
compare-and-set holds even when several processes share the file (``busy_timeout`` makes them
wait for each other instead of failing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from services.runtime.errors import Unavailable
from services.session.state import parse_session, parse_turn, version_conflict
from services.session.store import Transition
from switchboard.v1 import session_pb2

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (session_id, seq),
    UNIQUE (session_id, turn_id)
);
"""


class SqliteSessionStore:
    """Sessions and turn records in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        ttl_s: float,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.ttl_s = ttl_s
        self.synchronous = synchronous
        self.busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._db: aiosqlite.Connection | None = None
        # One connection, so one statement sequence at a time: without the lock, a read could run
        # inside another coroutine's open write transaction and see its uncommitted rows.
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise Unavailable(f"cannot open session database {self.path}: {error}") from error
        connection = aiosqlite.connect(self.path, isolation_level=None)
        try:
            db = await connection
        except (OSError, aiosqlite.Error) as error:
            # On a failed connect aiosqlite stops its worker thread without waiting for it; wait
            # here, so the thread never outlives the event loop its last reply is sent to.
            await asyncio.to_thread(connection._thread.join, 5.0)
            raise Unavailable(f"cannot open session database {self.path}: {error}") from error
        try:
            async with db.execute("PRAGMA journal_mode=WAL") as cursor:
                row = await cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise Unavailable(f"session database {self.path} cannot use WAL mode")
            await db.execute(f"PRAGMA synchronous={self.synchronous}")
            await db.execute(f"PRAGMA busy_timeout={round(self.busy_timeout_s * 1000)}")
            await db.executescript(_SCHEMA)
        except BaseException:
            await db.close()
            raise
        self._db = db
        log.info("session store: SQLite %s (WAL, synchronous=%s)", self.path, self.synchronous)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[aiosqlite.Connection]:
        if self._db is None:
            raise Unavailable("the session store is not open")
        db = self._db
        async with self._lock:
            # BEGIN and COMMIT sit inside the try: a task cancelled while one of them is queued on
            # aiosqlite's thread must still end the transaction, or the connection stays inside it.
            # The thread runs statements in order, so the ROLLBACK always comes after them.
            try:
                await db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(aiosqlite.OperationalError):  # nothing left to roll back
                    await db.execute("ROLLBACK")
                raise

    async def _fetchone(self, db: aiosqlite.Connection, sql: str, *args: Any) -> Any:
        async with db.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def _live_row(self, db: aiosqlite.Connection, session_id: str) -> Any:
        """The session's (version, data) row, after erasing it if it has expired."""
        row = await self._fetchone(
            db, "SELECT version, data, expires_at FROM sessions WHERE id = ?", session_id
        )
        if row is not None and row[2] <= self._clock():
            await self._erase(db, session_id)
            return None
        return row

    async def _erase(self, db: aiosqlite.Connection, session_id: str) -> None:
        await db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
        await db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    async def get(self, session_id: str) -> session_pb2.Session | None:
        async with self._transaction(write=False) as db:
            row = await self._fetchone(
                db,
                "SELECT data FROM sessions WHERE id = ? AND expires_at > ?",
                session_id,
                self._clock(),
            )
        return None if row is None else parse_session(row[0])

    async def create(self, session: session_pb2.Session) -> tuple[session_pb2.Session, bool]:
        async with self._transaction(write=True) as db:
            row = await self._live_row(db, session.id)
            if row is not None:
                return parse_session(row[1]), False
            await db.execute(
                "INSERT INTO sessions (id, version, expires_at, data) VALUES (?, ?, ?, ?)",
                (
                    session.id,
                    session.version,
                    self._clock() + self.ttl_s,
                    session.SerializeToString(),
                ),
            )
        return session, True

    async def append(
        self,
        session_id: str,
        expected_version: int,
        turn: session_pb2.TurnRecord,
        transition: Transition,
    ) -> session_pb2.Session:
        async with self._transaction(write=True) as db:
            row = await self._live_row(db, session_id)
            current = None if row is None else parse_session(row[1])
            if current is not None:
                recorded = await self._fetchone(
                    db,
                    "SELECT 1 FROM turns WHERE session_id = ? AND turn_id = ?",
                    session_id,
                    turn.turn_id,
                )
                if recorded is not None:
                    return current
            version = 0 if row is None else int(row[0])
            if version != expected_version:
                raise version_conflict(session_id, version, expected_version)
            session = transition(current)
            await db.execute(
                "INSERT INTO turns (session_id, seq, turn_id, data) VALUES (?, ?, ?, ?)",
                (session_id, session.version, turn.turn_id, turn.SerializeToString()),
            )
            await db.execute(
                "INSERT INTO sessions (id, version, expires_at, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
                "expires_at = excluded.expires_at, data = excluded.data",
                (
                    session_id,
                    session.version,
                    self._clock() + self.ttl_s,
                    session.SerializeToString(),
                ),
            )
        return session

    async def list_turns(
        self, session_id: str, offset: int, limit: int
    ) -> list[session_pb2.TurnRecord] | None:
        async with self._transaction(write=False) as db:
            exists = await self._fetchone(
                db,
                "SELECT 1 FROM sessions WHERE id = ? AND expires_at > ?",
                session_id,
                self._clock(),
            )
            if exists is None:
                return None
            async with db.execute(
                "SELECT data FROM turns WHERE session_id = ? ORDER BY seq LIMIT ? OFFSET ?",
                (session_id, limit, offset),
            ) as cursor:
                rows = await cursor.fetchall()
        return [parse_turn(row[0]) for row in rows]

    async def delete(self, session_id: str) -> bool:
        async with self._transaction(write=True) as db:
            live = await self._fetchone(
                db,
                "SELECT 1 FROM sessions WHERE id = ? AND expires_at > ?",
                session_id,
                self._clock(),
            )
            await self._erase(db, session_id)
        return live is not None

    async def purge_expired(self) -> int:
        now = self._clock()
        async with self._transaction(write=True) as db:
            await db.execute(
                "DELETE FROM turns WHERE session_id IN "
                "(SELECT id FROM sessions WHERE expires_at <= ?)",
                (now,),
            )
            async with db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)) as cursor:
                purged = int(cursor.rowcount)
        if purged:
            log.info("purged %d expired sessions", purged)
        return purged
