"""One turn of a session at a time across router processes and replicas: a lease in Redis.

:class:`~services.session.turns.TurnGate` orders the turns of a session inside one process. With
several router processes (workers sharing a port, replicas behind the gateway) two messages of
one session can reach two processes. Both would read the same session version, and the second
turn's ``AppendTurn`` would be refused (ABORTED) after all its work was done. With
``session.turn_lock=redis`` the gate also takes the session's lease in Redis before the turn
starts, so the second turn waits for the first (``queue``) or is refused at once (``reject``),
wherever it runs.

The lease is redis-py's :class:`~redis.asyncio.lock.Lock`: ``SET NX PX`` with a random token,
released by a script only by its holder. A router that dies holding a lease frees it after
``turn_lock_lease_s``. A turn that outlives its lease loses it (logged); its write is still
guarded by the session's version, as without the lease. A waiting process polls every
``poll_s``; the process's own gate lets only one turn per session wait on Redis at a time.
An unreachable Redis fails the turn with UNAVAILABLE rather than running it unguarded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

from services.runtime import deadline
from services.runtime.errors import DeadlineExceeded, Unavailable
from services.session.redis_store import redact_url

log = logging.getLogger(__name__)


class TurnLeaseHeld(Exception):
    """Another process holds the session's lease (``wait=False``); ``holder`` names its turn."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


class RedisTurnLock:
    """A lease per session in Redis; :meth:`hold` keeps it for the length of one turn."""

    def __init__(
        self,
        url: str,
        *,
        lease_s: float,
        key_prefix: str = "switchboard:session:",
        timeout_s: float = 2.0,
        poll_s: float = 0.02,
    ) -> None:
        self.url = url
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._prefix = f"{key_prefix}turn-lease:"
        # Connects on first use; a router starts whether or not Redis is up yet.
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def key(self, session_id: str) -> str:
        return f"{self._prefix}{{{session_id}}}"

    async def holder(self, session_id: str) -> str | None:
        """The turn holding the session's lease, or None."""
        token = await self._client.get(self.key(session_id))
        if token is None:
            return None
        text = token if isinstance(token, str) else token.decode("utf-8", "replace")
        return text.rsplit("/", 1)[0]

    @asynccontextmanager
    async def hold(self, session_id: str, turn_id: str, *, wait: bool) -> AsyncIterator[None]:
        """Hold the session's lease for the block: wait for it until the turn's deadline, or
        raise :class:`TurnLeaseHeld` at once when ``wait`` is false and another holds it."""
        lock = self._client.lock(
            self.key(session_id), timeout=self.lease_s, sleep=self.poll_s, thread_local=False
        )
        token = f"{turn_id or 'turn'}/{uuid.uuid4().hex}"
        try:
            acquired = await lock.acquire(
                blocking=wait, blocking_timeout=deadline.remaining(), token=token
            )
            holder = None if acquired or wait else await self.holder(session_id)
        except (RedisError, OSError) as error:
            raise Unavailable(
                f"the turn lock in Redis at {redact_url(self.url)} cannot be reached: {error}"
            ) from error
        if not acquired:
            if not wait:
                raise TurnLeaseHeld(holder or "unnamed")
            raise DeadlineExceeded(
                f"turn {turn_id or '(unnamed)'} reached its deadline waiting for the previous "
                f"turn of session {session_id} to finish on another router"
            )
        try:
            yield
        finally:
            await self._release(lock, session_id, turn_id)

    async def _release(self, lock: Lock, session_id: str, turn_id: str) -> None:
        try:
            await lock.release()
        except LockNotOwnedError:
            log.warning(
                "turn %s of session %s outlived its %.0f s lease; the session's version still "
                "guards its write",
                turn_id,
                session_id,
                self.lease_s,
            )
        except (RedisError, OSError) as error:
            log.warning(
                "could not release the lease of session %s (it expires by itself within "
                "%.0f s): %s",
                session_id,
                self.lease_s,
                error,
            )

    async def close(self) -> None:
        await self._client.aclose()
