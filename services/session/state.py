"""How a session changes: pure functions over the protobuf messages, shared by every store.

The stores make a write atomic; what the write contains is decided here, once, so the SQLite and
Redis stores cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.runtime.errors import Aborted
from switchboard.v1 import common_pb2, events_pb2, session_pb2

CUSTOMER = "customer"
ASSISTANT = "assistant"
#: the ladder's safe paths: a turn that ends on one of them did not serve the customer's request
_LADDER_ACTIONS = (
    events_pb2.FALLBACK_ACTION_CLARIFY,
    events_pb2.FALLBACK_ACTION_SAFE_FLOW,
    events_pb2.FALLBACK_ACTION_HANDOFF,
)


@dataclass(frozen=True)
class TurnWrite:
    """A finished turn and the session state it leaves.

    ``customer_id`` sets the customer reference when not empty; ``identity_verified`` changes the
    verified-identity flag when not None (verification is never taken back by omission, only by
    a write naming another customer: a verification belongs to the customer it was made for).
    ``identity_lookup`` replaces the session's record of a look-up that found the customer not
    verified; None clears it, so a writer that does not know about it can only make the next turn
    look the customer up again.
    """

    turn: session_pb2.TurnRecord
    slots: Mapping[str, str] = field(default_factory=dict)
    customer_id: str = ""
    pending_flow: str = ""
    identity_verified: bool | None = None
    #: the plan awaiting the customer's confirmation; None clears it
    pending_plan: common_pb2.Plan | None = None
    #: the look-up that found the customer not verified, still to be relied on; None clears it
    identity_lookup: session_pb2.IdentityLookup | None = None
    #: the conversation's industry, once a turn served one of its requests; empty keeps it
    industry: str = ""
    #: the intent of the request this turn served in full; empty keeps the session's
    served_intent: str = ""
    #: the request this turn's reply offered to make next; empty clears the session's
    offered_intent: str = ""
    #: the alternatives this turn's reply offered (two or more); empty clears the session's
    offered_choices: tuple[session_pb2.OfferedRequest, ...] = ()
    #: the request refused until the caller proves whose account it is; empty clears the session's
    proof_awaited_intent: str = ""


def parse_session(data: bytes) -> session_pb2.Session:
    """A stored session."""
    session: session_pb2.Session = session_pb2.Session.FromString(data)
    return session


def parse_turn(data: bytes) -> session_pb2.TurnRecord:
    """A stored turn record."""
    turn: session_pb2.TurnRecord = session_pb2.TurnRecord.FromString(data)
    return turn


def _nanoseconds(seconds: float) -> int:
    return round(seconds * 1e9)


def new_session(session_id: str, now: float) -> session_pb2.Session:
    """An empty session at version 0."""
    session = session_pb2.Session(id=session_id, version=0)
    session.created_at.FromNanoseconds(_nanoseconds(now))
    session.updated_at.FromNanoseconds(_nanoseconds(now))
    return session


def apply_turn(
    current: session_pb2.Session, write: TurnWrite, now: float, history_turns: int
) -> session_pb2.Session:
    """The session after ``write``: version + 1, new slots and flow, the turn's messages added."""
    session = session_pb2.Session()
    session.CopyFrom(current)
    session.version = current.version + 1
    session.slots.clear()
    session.slots.update(write.slots)
    session.pending_flow = write.pending_flow
    if write.pending_plan is not None and write.pending_plan.steps:
        session.pending_plan.CopyFrom(write.pending_plan)
    else:
        session.ClearField("pending_plan")
    if write.customer_id:
        if session.customer_id and session.customer_id != write.customer_id:
            # The verification was of another customer: it does not pass to this one.
            session.identity_verified = False
        session.customer_id = write.customer_id
    if write.identity_verified is not None:
        session.identity_verified = write.identity_verified
    if write.industry:
        session.industry = write.industry
    if write.served_intent:
        session.served_intent = write.served_intent
    session.offered_intent = write.offered_intent
    del session.offered_choices[:]
    session.offered_choices.extend(write.offered_choices)
    session.proof_awaited_intent = write.proof_awaited_intent
    if any(f.action in _LADDER_ACTIONS for f in write.turn.fallbacks):
        session.fallbacks_in_a_row += 1
    else:
        session.fallbacks_in_a_row = 0
    clarified = any(f.action == events_pb2.FALLBACK_ACTION_CLARIFY for f in write.turn.fallbacks)
    session.clarified_text = write.turn.customer_text if clarified else ""
    if write.identity_lookup is not None and write.identity_lookup.customer_id:
        session.identity_lookup.CopyFrom(write.identity_lookup)
    else:
        session.ClearField("identity_lookup")
    turn = write.turn
    if turn.customer_text:
        session.history.append(
            common_pb2.HistoryEntry(role=CUSTOMER, text=turn.customer_text, turn_id=turn.turn_id)
        )
    if turn.reply_text:
        session.history.append(
            common_pb2.HistoryEntry(role=ASSISTANT, text=turn.reply_text, turn_id=turn.turn_id)
        )
    _trim_history(session, history_turns)
    session.updated_at.FromNanoseconds(_nanoseconds(now))
    return session


def _trim_history(session: session_pb2.Session, history_turns: int) -> None:
    # History is kept per turn, not per message, so a turn's question is never kept without its
    # answer (or the other way round).
    kept_turns: list[str] = []
    for entry in reversed(session.history):
        if entry.turn_id not in kept_turns:
            kept_turns.append(entry.turn_id)
    keep = set(kept_turns[:history_turns])
    entries = [entry for entry in session.history if entry.turn_id in keep]
    del session.history[:]
    session.history.extend(entries)


def version_conflict(session_id: str, current: int, expected: int) -> Aborted:
    """The error for a write based on a stale version."""
    return Aborted(
        f"session {session_id} is at version {current}, write was based on {expected}; "
        "re-read the session and retry"
    )
