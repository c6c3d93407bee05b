"""The session domain: validation, paging and the clock, over any :class:`SessionStore`."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.runtime.errors import InvalidArgument, NotFound
from services.session.state import TurnWrite, apply_turn, new_session
from services.session.store import SessionStore
from switchboard.v1 import session_pb2

MAX_ID_CHARS = 256
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_TOKEN_PREFIX = "turns:"


@dataclass(frozen=True)
class TurnPage:
    """A page of turn records, oldest first; ``next_page_token`` is empty at the end."""

    turns: list[session_pb2.TurnRecord]
    next_page_token: str


def encode_page_token(offset: int) -> str:
    """An opaque token for "continue after the first ``offset`` turns"."""
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode()


def decode_page_token(token: str) -> int:
    """The offset a token stands for; InvalidArgument for a token this service did not make."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidArgument(f"invalid page token {token!r}") from None
    number = text.removeprefix(_TOKEN_PREFIX)
    if not text.startswith(_TOKEN_PREFIX) or not number.isdigit():
        raise InvalidArgument(f"invalid page token {token!r}")
    return int(number)


def _check_id(kind: str, value: str) -> None:
    if not value:
        raise InvalidArgument(f"{kind} is required")
    if len(value) > MAX_ID_CHARS:
        raise InvalidArgument(f"{kind} is longer than {MAX_ID_CHARS} characters")


class Sessions:
    """Reads and versioned writes of sessions and their audit trail."""

    def __init__(
        self,
        store: SessionStore,
        *,
        history_turns: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.history_turns = history_turns
        self._clock = clock

    async def get(self, session_id: str, *, create: bool) -> tuple[session_pb2.Session, bool]:
        """The session and whether this call created it; NotFound when absent and not creating."""
        _check_id("session_id", session_id)
        session = await self.store.get(session_id)
        if session is not None:
            return session, False
        if not create:
            raise NotFound(f"session {session_id} not found")
        return await self.store.create(new_session(session_id, self._clock()))

    async def append(
        self, session_id: str, expected_version: int, write: TurnWrite
    ) -> session_pb2.Session:
        """Record a turn and the state it leaves; Aborted when ``expected_version`` is stale."""
        _check_id("session_id", session_id)
        _check_id("turn.turn_id", write.turn.turn_id)
        if expected_version < 0:
            raise InvalidArgument(f"expected_version must be 0 or more, got {expected_version}")
        if write.turn.status == session_pb2.TURN_STATUS_UNSPECIFIED:
            raise InvalidArgument(
                "turn.status is required (TURN_STATUS_COMPLETED, _FAILED or _CANCELLED)"
            )

        def transition(current: session_pb2.Session | None) -> session_pb2.Session:
            now = self._clock()
            base = current if current is not None else new_session(session_id, now)
            return apply_turn(base, write, now, self.history_turns)

        return await self.store.append(session_id, expected_version, write.turn, transition)

    async def list_turns(self, session_id: str, page_size: int, page_token: str) -> TurnPage:
        """A page of the session's turns; NotFound for an unknown session."""
        _check_id("session_id", session_id)
        if page_size < 0:
            raise InvalidArgument(f"page_size must be 0 or more, got {page_size}")
        limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        offset = decode_page_token(page_token)
        # One record more than asked tells whether another page follows.
        turns = await self.store.list_turns(session_id, offset, limit + 1)
        if turns is None:
            raise NotFound(f"session {session_id} not found")
        more = len(turns) > limit
        return TurnPage(turns[:limit], encode_page_token(offset + limit) if more else "")

    async def delete(self, session_id: str) -> bool:
        """Erase the session and its turns; True when there was one."""
        _check_id("session_id", session_id)
        return await self.store.delete(session_id)
