"""The session store interface: what a backend must do, and the guarantees it must keep.

Every store keeps, per session, the session message and its append-only list of turn records, both
as serialized protobuf bytes. Binary protobuf rather than JSON because the messages are the
contract: bytes round-trip exactly (including fields a newer writer added that this reader does
not know), are smaller and faster to parse, and nobody is meant to edit stored sessions by hand;
the gRPC API and ``ListTurns`` are how people read them.

Guarantees every store keeps (the contract tests in tests/session check them on each backend):

- ``append`` is one atomic step. It first looks the turn id up: a turn already recorded returns
  the stored session unchanged, whatever version the retry names. Otherwise the stored version
  (0 when there is no session) must equal ``expected_version``, or it raises
  :class:`~services.runtime.errors.Aborted` and writes nothing. Then the turn record and the
  session made by ``transition`` are written together.
- A session is kept ``ttl_s`` seconds after its last write. An expired session is never returned
  and never appended to: a write against it starts a fresh session.
- ``delete`` removes the session and every turn record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from switchboard.v1 import session_pb2

#: Builds the session a turn leaves, from the stored one (``None`` when there is none yet).
Transition = Callable[[session_pb2.Session | None], session_pb2.Session]


class SessionStore(Protocol):
    """A durable home for sessions and their turn records."""

    async def open(self) -> None:
        """Connect and create the schema; fail here, before the service reports SERVING."""

    async def close(self) -> None:
        """Release connections."""

    async def get(self, session_id: str) -> session_pb2.Session | None:
        """The stored session, or None when there is none or it has expired."""

    async def create(self, session: session_pb2.Session) -> tuple[session_pb2.Session, bool]:
        """Store ``session`` unless one exists; return the stored session and whether it is new."""

    async def append(
        self,
        session_id: str,
        expected_version: int,
        turn: session_pb2.TurnRecord,
        transition: Transition,
    ) -> session_pb2.Session:
        """Record ``turn`` and the session ``transition`` makes, atomically (see module doc)."""

    async def list_turns(
        self, session_id: str, offset: int, limit: int
    ) -> list[session_pb2.TurnRecord] | None:
        """Up to ``limit`` turn records after the first ``offset``, oldest first.

        None when the session does not exist.
        """

    async def delete(self, session_id: str) -> bool:
        """Erase a session and its turns; True when there was one."""

    async def purge_expired(self) -> int:
        """Delete expired sessions now; return how many went (0 where the backend expires keys)."""
