"""Checks on what channel services send, before a turn starts."""

from __future__ import annotations

import re
import uuid

from services.router.turn import TurnInput
from services.runtime.errors import InvalidArgument

_SESSION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TURN_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def check_session_id(value: str) -> str:
    """A valid session id, or InvalidArgument saying what is wrong (without echoing it)."""
    if not value:
        raise InvalidArgument("session_id is required")
    if not _SESSION_ID.fullmatch(value):
        raise InvalidArgument(
            "session_id must be 1 to 128 characters of letters, digits and . _ : -"
        )
    return value


def turn_input(
    *,
    session_id: str,
    text: str,
    channel: str,
    customer_id: str,
    max_text_chars: int,
    turn_id: str = "",
) -> TurnInput:
    """A TurnInput from request fields, or InvalidArgument saying what is wrong."""
    check_session_id(session_id)
    if not text.strip():
        raise InvalidArgument("text is empty: send the customer's message")
    if len(text) > max_text_chars:
        raise InvalidArgument(f"text is {len(text)} characters long; the limit is {max_text_chars}")
    if "\x00" in text:
        raise InvalidArgument("text contains a NUL character")
    if len(channel) > 64 or len(customer_id) > 128:
        raise InvalidArgument("channel is limited to 64 characters and customer_id to 128")
    if turn_id and not _TURN_ID.fullmatch(turn_id):
        raise InvalidArgument("turn_id must be 1 to 64 characters of letters, digits and . _ : -")
    return TurnInput(
        turn_id=turn_id or uuid.uuid4().hex,
        session_id=session_id,
        text=text,
        channel=channel,
        customer_id=customer_id,
    )
