"""What happens when a message arrives while a turn of the same session is still running.

The router holds a :class:`TurnGate` for the whole turn, from reading the session to appending the
turn record::

    gate = TurnGate.from_settings(settings.session)
    async with gate.hold(session_id, turn_id):
        session = ...GetSession(create=True)
        ...the turn...
        ...AppendTurn(expected_version=session.version)

Two strategies, chosen by ``session.concurrent_turns``:

- ``queue`` (default): turns of one session run one after another, in arrival order (asyncio's
  lock is FIFO). The second message sees the state the first one left, which is what a customer
  who sends "UA 123" right after "is my flight on time?" expects. A waiting turn gives up with
  DEADLINE_EXCEEDED when its own deadline passes, and at most ``max_queued`` turns may wait per
  session (RESOURCE_EXHAUSTED beyond that), so a flood of messages cannot pile up without bound.
- ``reject``: the second message is refused at once with ABORTED (:class:`TurnInProgress`),
  naming the turn in progress; the client sends it again when that turn completes.

The gate orders the turns of one process. With ``session.turn_lock=redis`` it also holds the
session's lease in Redis for the turn (:mod:`services.session.turn_lock`), so the strategy holds
across router processes and replicas. Without it (``process``, the default, right for one router
process), the session's optimistic versioning still guarantees that no write is lost: a turn
that raced a turn in another process gets ABORTED from AppendTurn and must be re-run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from services.runtime import deadline
from services.runtime.errors import Aborted, DeadlineExceeded, ResourceExhausted
from services.session.config import SessionSettings

Strategy = Literal["queue", "reject"]


class TurnInProgress(Aborted):
    """A turn of the session is running and the strategy is "reject"."""


class SharedLock(Protocol):
    """A lock on a session shared by router processes (:class:`~.turn_lock.RedisTurnLock`)."""

    def hold(
        self, session_id: str, turn_id: str, *, wait: bool
    ) -> AbstractAsyncContextManager[None]: ...

    async def close(self) -> None: ...


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # turns holding or waiting for the lock; the slot goes when the last one leaves
    users: int = 0
    running: str = ""


class TurnGate:
    """Serializes (queue) or refuses (reject) concurrent turns of one session: within the process,
    and across router processes when it has a ``shared`` lock."""

    def __init__(
        self, strategy: Strategy = "queue", *, max_queued: int = 4, shared: SharedLock | None = None
    ) -> None:
        if strategy not in ("queue", "reject"):
            raise ValueError(f"unknown concurrent-turn strategy {strategy!r}")
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self.strategy: Strategy = strategy
        self.max_queued = max_queued
        self.shared = shared
        self._slots: dict[str, _Slot] = {}

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> TurnGate:
        """The gate the session settings describe."""
        shared: SharedLock | None = None
        if settings.turn_lock == "redis":
            from services.session.turn_lock import RedisTurnLock

            shared = RedisTurnLock(
                settings.redis_url,
                lease_s=settings.turn_lock_lease_s,
                key_prefix=settings.redis_key_prefix,
                timeout_s=settings.redis_timeout_s,
            )
        return cls(settings.concurrent_turns, max_queued=settings.max_queued_turns, shared=shared)

    async def close(self) -> None:
        """Let go of the shared lock's connections."""
        if self.shared is not None:
            await self.shared.close()

    @property
    def sessions(self) -> int:
        """How many sessions have a turn running or waiting."""
        return len(self._slots)

    def busy(self, session_id: str) -> bool:
        """True while a turn of the session holds the gate."""
        slot = self._slots.get(session_id)
        return slot is not None and slot.lock.locked()

    def waiting(self, session_id: str) -> int:
        """How many turns of the session wait behind the running one."""
        slot = self._slots.get(session_id)
        return 0 if slot is None else slot.users - (1 if slot.lock.locked() else 0)

    @asynccontextmanager
    async def hold(self, session_id: str, turn_id: str = "") -> AsyncIterator[None]:
        """Run the block as the session's only running turn (see the module doc)."""
        slot = self._slots.get(session_id)
        if slot is None:
            slot = self._slots[session_id] = _Slot()
        elif self.strategy == "reject":
            raise TurnInProgress(
                f"session {session_id} already has a turn in progress "
                f"({slot.running or 'unnamed'}); send the message again when it has completed"
            )
        elif slot.users > self.max_queued:
            raise ResourceExhausted(
                f"session {session_id} already has {self.max_queued} turns waiting behind the "
                "running one; send the message again later"
            )
        slot.users += 1
        try:
            await self._acquire(slot, session_id, turn_id)
            try:
                async with self._shared(session_id, turn_id):
                    slot.running = turn_id
                    yield
            finally:
                slot.running = ""
                slot.lock.release()
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[session_id]

    @asynccontextmanager
    async def _shared(self, session_id: str, turn_id: str) -> AsyncIterator[None]:
        """The session's lease across processes, when there is a shared lock."""
        if self.shared is None:
            yield
            return
        from services.session.turn_lock import TurnLeaseHeld

        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(
                    self.shared.hold(session_id, turn_id, wait=self.strategy == "queue")
                )
            except TurnLeaseHeld as held:
                raise TurnInProgress(
                    f"session {session_id} already has a turn in progress ({held.holder}, on "
                    "another router); send the message again when it has completed"
                ) from None
            yield

    async def _acquire(self, slot: _Slot, session_id: str, turn_id: str) -> None:
        left = deadline.remaining()
        if left is not None and left <= 0:
            raise DeadlineExceeded(f"turn {turn_id} reached its deadline before it could start")
        try:
            async with asyncio.timeout(left):
                await slot.lock.acquire()
        except TimeoutError:
            raise DeadlineExceeded(
                f"turn {turn_id or '(unnamed)'} reached its deadline waiting for the previous turn "
                f"of session {session_id} to finish"
            ) from None
