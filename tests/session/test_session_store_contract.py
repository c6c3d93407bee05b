"""The session store contract, run against SQLite and a real Redis server alike."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis_server import RedisServer

from services.runtime.errors import Aborted, InvalidArgument, NotFound
from services.session.redis_store import RedisSessionStore
from services.session.sessions import Sessions
from services.session.sqlite_store import SqliteSessionStore
from services.session.state import TurnWrite
from services.session.store import SessionStore
from switchboard.v1 import events_pb2, session_pb2

pytestmark = pytest.mark.asyncio


class Backend:
    """Opens stores of one kind over the same data, and restarts what holds the data."""

    def __init__(self, kind: str, tmp_path: Path, redis_server: RedisServer | None) -> None:
        self.kind = kind
        self.path = tmp_path / "data" / "sessions.db"
        self.redis_server = redis_server
        # A fresh key prefix per test keeps tests apart on the shared server.
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self._open: list[SessionStore] = []

    def make(self, ttl_s: float) -> SessionStore:
        if self.redis_server is not None:
            return RedisSessionStore(self.redis_server.url, ttl_s=ttl_s, key_prefix=self.prefix)
        return SqliteSessionStore(self.path, ttl_s=ttl_s)

    async def open(self, ttl_s: float = 3600.0) -> SessionStore:
        store = self.make(ttl_s)
        await store.open()
        self._open.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._open:
            await store.close()
        self._open.clear()

    async def restart(self) -> None:
        """Close every store and, for Redis, restart the server process on the same directory."""
        await self.close_all()
        if self.redis_server is not None:
            await asyncio.to_thread(self.redis_server.restart)


@pytest_asyncio.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    server = request.getfixturevalue("redis_server") if request.param == "redis" else None
    opened = Backend(request.param, tmp_path, server)
    yield opened
    await opened.close_all()


@pytest_asyncio.fixture
async def sessions(backend: Backend) -> Sessions:
    return Sessions(await backend.open(), history_turns=20)


def turn(turn_id: str, customer: str = "", reply: str = "") -> session_pb2.TurnRecord:
    return session_pb2.TurnRecord(
        turn_id=turn_id,
        trace_id=f"trace-{turn_id}",
        customer_text=customer or f"customer says {turn_id}",
        reply_text=reply or f"assistant answers {turn_id}",
        status=session_pb2.TURN_STATUS_COMPLETED,
    )


def write(turn_id: str, **state: object) -> TurnWrite:
    return TurnWrite(turn=turn(turn_id), **state)  # type: ignore[arg-type]


async def test_get_creates_an_empty_session_only_when_asked(sessions: Sessions) -> None:
    with pytest.raises(NotFound, match="session s1 not found"):
        await sessions.get("s1", create=False)

    created, was_created = await sessions.get("s1", create=True)
    again, created_again = await sessions.get("s1", create=True)

    assert was_created and not created_again
    assert created.id == "s1" and created.version == 0 and not created.history
    assert again == created
    assert await sessions.store.list_turns("s1", 0, 10) == []


async def test_append_records_the_turn_and_the_state_it_leaves(sessions: Sessions) -> None:
    record = turn("t1", customer="Is flight UA 123 on time?", reply="UA 123 is delayed.")
    session = await sessions.append(
        "s1",
        0,
        TurnWrite(
            turn=record,
            slots={"flight_number": "UA123"},
            customer_id="C-1001",
            pending_flow="rebook_flight",
            identity_verified=True,
        ),
    )

    assert session.version == 1
    assert dict(session.slots) == {"flight_number": "UA123"}
    assert session.customer_id == "C-1001"
    assert session.pending_flow == "rebook_flight"
    assert session.identity_verified
    assert [(h.role, h.text, h.turn_id) for h in session.history] == [
        ("customer", "Is flight UA 123 on time?", "t1"),
        ("assistant", "UA 123 is delayed.", "t1"),
    ]
    assert (await sessions.get("s1", create=False))[0] == session
    page = await sessions.list_turns("s1", 0, "")
    assert page.turns == [record] and page.next_page_token == ""


async def test_a_verification_does_not_pass_to_another_customer(sessions: Sessions) -> None:
    await sessions.append("s1", 0, write("t1", customer_id="C-1", identity_verified=True))
    same = await sessions.append("s1", 1, write("t2", customer_id="C-1"))
    assert same.identity_verified
    other = await sessions.append("s1", 2, write("t3", customer_id="C-2"))
    assert other.customer_id == "C-2" and not other.identity_verified
    verified = await sessions.append(
        "s1", 3, write("t4", customer_id="C-2", identity_verified=True)
    )
    assert verified.identity_verified


async def test_fallbacks_in_a_row_count_the_ladders_turns_until_one_is_served(
    sessions: Sessions,
) -> None:
    def fallen(turn_id: str, action: int) -> TurnWrite:
        written = write(turn_id)
        written.turn.fallbacks.add(action=action)  # type: ignore[arg-type]
        return written

    clarified = await sessions.append("s1", 0, fallen("t1", events_pb2.FALLBACK_ACTION_CLARIFY))
    assert clarified.fallbacks_in_a_row == 1
    safe = await sessions.append("s1", 1, fallen("t2", events_pb2.FALLBACK_ACTION_SAFE_FLOW))
    assert safe.fallbacks_in_a_row == 2
    # The model was down but the embedded engine served the request: not the ladder's.
    served = await sessions.append(
        "s1", 2, fallen("t3", events_pb2.FALLBACK_ACTION_EMBEDDED_ENGINE)
    )
    assert served.fallbacks_in_a_row == 0
    again = await sessions.append("s1", 3, fallen("t4", events_pb2.FALLBACK_ACTION_HANDOFF))
    assert again.fallbacks_in_a_row == 1
    assert (await sessions.append("s1", 4, write("t5"))).fallbacks_in_a_row == 0


async def test_a_clarified_message_is_kept_for_the_next_turn_only(sessions: Sessions) -> None:
    def asked(turn_id: str) -> TurnWrite:
        written = write(turn_id)
        written.turn.customer_text = "is <MEMBER_ID_1> covered for a crown?"
        written.turn.fallbacks.add(action=events_pb2.FALLBACK_ACTION_CLARIFY)
        return written

    clarified = await sessions.append("s1", 0, asked("t1"))
    assert clarified.clarified_text == "is <MEMBER_ID_1> covered for a crown?"
    assert (await sessions.get("s1", create=False))[0].clarified_text == clarified.clarified_text
    # A safe flow or a hand-off offered no request to choose: nothing to carry.
    safe = write("t2")
    safe.turn.customer_text = "what's the weather like?"
    safe.turn.fallbacks.add(action=events_pb2.FALLBACK_ACTION_SAFE_FLOW)
    assert (await sessions.append("s1", 1, safe)).clarified_text == ""
    again = await sessions.append("s1", 2, asked("t3"))
    assert again.clarified_text
    assert (await sessions.append("s1", 3, write("t4"))).clarified_text == ""


async def test_a_created_session_takes_its_first_turn_at_version_0(sessions: Sessions) -> None:
    created, _ = await sessions.get("s1", create=True)
    session = await sessions.append("s1", created.version, write("t1"))
    assert session.version == 1
    assert session.created_at == created.created_at


async def test_later_turns_replace_slots_and_flow_and_keep_the_customer(
    sessions: Sessions,
) -> None:
    await sessions.append(
        "s1", 0, write("t1", slots={"a": "1", "b": "2"}, customer_id="C-1", pending_flow="f")
    )
    session = await sessions.append("s1", 1, write("t2", slots={"c": "3"}))
    assert session.version == 2
    assert dict(session.slots) == {"c": "3"}
    assert session.customer_id == "C-1"
    assert session.pending_flow == ""


async def test_an_identity_lookup_is_kept_only_by_the_writes_that_carry_it(
    sessions: Sessions,
) -> None:
    lookup = session_pb2.IdentityLookup(customer_id="C-1002")
    lookup.checked_at.FromSeconds(1_800_000_000)
    kept = await sessions.append("s1", 0, write("t1", customer_id="C-1002", identity_lookup=lookup))
    assert kept.identity_lookup == lookup
    assert (await sessions.get("s1", create=False))[0].identity_lookup == lookup
    again = await sessions.append("s1", 1, write("t2", identity_lookup=lookup))
    assert again.identity_lookup == lookup
    # A write that does not carry it (a turn that may have changed the customer's state, or a
    # writer that does not know the field) clears it.
    cleared = await sessions.append("s1", 2, write("t3"))
    assert not cleared.HasField("identity_lookup")
    assert not (await sessions.get("s1", create=False))[0].HasField("identity_lookup")


async def test_a_stale_write_is_aborted_and_writes_nothing(sessions: Sessions) -> None:
    for version, turn_id in enumerate(["t1", "t2", "t3", "t4"]):
        await sessions.append("s1", version, write(turn_id))
    before, _ = await sessions.get("s1", create=False)

    with pytest.raises(Aborted) as aborted:
        await sessions.append("s1", 3, write("t5", slots={"lost": "no"}))

    assert aborted.value.message.startswith("session s1 is at version 4, write was based on 3")
    assert (await sessions.get("s1", create=False))[0] == before
    turns = (await sessions.list_turns("s1", 0, "")).turns
    assert [t.turn_id for t in turns] == ["t1", "t2", "t3", "t4"]


async def test_a_write_based_on_a_version_of_a_missing_session_is_aborted(
    sessions: Sessions,
) -> None:
    with pytest.raises(Aborted, match="session s1 is at version 0, write was based on 2"):
        await sessions.append("s1", 2, write("t1"))
    with pytest.raises(NotFound):
        await sessions.get("s1", create=False)


async def test_reappending_a_recorded_turn_returns_the_session_unchanged(
    sessions: Sessions,
) -> None:
    await sessions.append("s1", 0, write("t1", slots={"x": "1"}))
    current = await sessions.append("s1", 1, write("t2", slots={"x": "2"}))

    # A retry of t1 after its response was lost: based on the version t1 first read.
    retried = await sessions.append("s1", 0, write("t1", slots={"x": "retry"}))

    assert retried == current
    turns = (await sessions.list_turns("s1", 0, "")).turns
    assert [t.turn_id for t in turns] == ["t1", "t2"]


async def test_history_keeps_the_messages_of_the_last_turns(backend: Backend) -> None:
    sessions = Sessions(await backend.open(), history_turns=2)
    await sessions.append("s1", 0, write("t1"))
    await sessions.append("s1", 1, write("t2"))
    failed = session_pb2.TurnRecord(
        turn_id="t3",
        customer_text="and my bags?",
        status=session_pb2.TURN_STATUS_FAILED,
        error="planner unavailable",
    )
    session = await sessions.append("s1", 2, TurnWrite(turn=failed))

    assert [(h.role, h.turn_id) for h in session.history] == [
        ("customer", "t2"),
        ("assistant", "t2"),
        ("customer", "t3"),
    ]
    # The audit trail keeps every turn, whatever the history keeps.
    assert len((await sessions.list_turns("s1", 0, "")).turns) == 3


async def test_turns_come_back_a_page_at_a_time(sessions: Sessions) -> None:
    for version in range(5):
        await sessions.append("s1", version, write(f"t{version + 1}"))

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await sessions.list_turns("s1", 2, token)
        seen.extend(t.turn_id for t in page.turns)
        pages += 1
        token = page.next_page_token
        if not token:
            break

    assert seen == ["t1", "t2", "t3", "t4", "t5"]
    assert pages == 3
    whole = await sessions.list_turns("s1", 0, "")
    assert [t.turn_id for t in whole.turns] == seen and whole.next_page_token == ""
    with pytest.raises(InvalidArgument, match="invalid page token"):
        await sessions.list_turns("s1", 2, "not-a-token")
    with pytest.raises(NotFound):
        await sessions.list_turns("nobody", 2, "")


async def test_delete_erases_the_session_and_its_turns(sessions: Sessions) -> None:
    await sessions.append("s1", 0, write("t1", customer_id="C-1001"))
    await sessions.append("s2", 0, write("t1"))

    assert await sessions.delete("s1") is True
    assert await sessions.delete("s1") is False

    with pytest.raises(NotFound):
        await sessions.get("s1", create=False)
    with pytest.raises(NotFound):
        await sessions.list_turns("s1", 0, "")
    # The erased session starts afresh: no customer, no history, its turn ids free again.
    fresh = await sessions.append("s1", 0, write("t1"))
    assert fresh.version == 1 and fresh.customer_id == ""
    assert [h.turn_id for h in fresh.history] == ["t1", "t1"]
    # Other sessions are untouched.
    assert (await sessions.get("s2", create=False))[0].version == 1


async def _wait_until_gone(sessions: Sessions, session_id: str) -> None:
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        try:
            await sessions.get(session_id, create=False)
        except NotFound:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"session {session_id} did not expire")


async def test_an_expired_session_is_gone(backend: Backend) -> None:
    sessions = Sessions(await backend.open(ttl_s=0.3), history_turns=20)
    await sessions.append("s1", 0, write("t1", customer_id="C-1001"))
    await sessions.append("s2", 0, write("t1"))
    await sessions.append("s3", 0, write("t1"))

    await _wait_until_gone(sessions, "s1")

    with pytest.raises(NotFound):
        await sessions.list_turns("s1", 0, "")
    # A write based on the expired version is refused; one based on 0 starts afresh, and the
    # expired session's turn ids are free again.
    with pytest.raises(Aborted, match="session s1 is at version 0, write was based on 1"):
        await sessions.append("s1", 1, write("t2"))
    fresh = await sessions.append("s1", 0, write("t1"))
    assert fresh.version == 1 and fresh.customer_id == ""
    assert [t.turn_id for t in (await sessions.list_turns("s1", 0, "")).turns] == ["t1"]
    recreated, created = await sessions.get("s2", create=True)
    assert created and recreated.version == 0
    await _wait_until_gone(sessions, "s3")
    assert await sessions.delete("s3") is False


async def test_sessions_survive_a_restart_of_the_store(backend: Backend) -> None:
    sessions = Sessions(await backend.open(), history_turns=20)
    await sessions.append("s1", 0, write("t1", slots={"flight_number": "UA123"}))
    before = await sessions.append("s1", 1, write("t2", pending_flow="rebook_flight"))

    await backend.restart()

    reopened = Sessions(await backend.open(), history_turns=20)
    assert (await reopened.get("s1", create=False))[0] == before
    turns = (await reopened.list_turns("s1", 0, "")).turns
    assert [t.turn_id for t in turns] == ["t1", "t2"]
    resumed = await reopened.append("s1", before.version, write("t3"))
    assert resumed.version == 3 and resumed.slots == before.slots


async def test_racing_writers_get_one_winner_per_version(backend: Backend) -> None:
    # Separate stores: separate SQLite connections or Redis clients, as separate replicas have.
    writers = [Sessions(await backend.open(), history_turns=20) for _ in range(8)]

    results = await asyncio.gather(
        *(w.append("s1", 0, write(f"t{i}")) for i, w in enumerate(writers)),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, session_pb2.Session)]
    losers = [r for r in results if isinstance(r, Aborted)]
    assert len(winners) == 1 and len(losers) == len(writers) - 1
    turns = (await writers[0].list_turns("s1", 0, "")).turns
    assert [t.turn_id for t in turns] == [winners[0].history[0].turn_id]


async def test_losers_that_reread_and_retry_lose_nothing(backend: Backend) -> None:
    writers = [Sessions(await backend.open(), history_turns=100) for _ in range(6)]

    async def write_with_retry(writer: Sessions, turn_id: str) -> None:
        while True:
            session, _ = await writer.get("s1", create=True)
            try:
                await writer.append("s1", session.version, write(turn_id))
                return
            except Aborted:
                continue

    await asyncio.gather(*(write_with_retry(w, f"t{i}") for i, w in enumerate(writers)))

    session, _ = await writers[0].get("s1", create=False)
    turns = (await writers[0].list_turns("s1", 0, "")).turns
    assert session.version == len(writers)
    assert sorted(t.turn_id for t in turns) == sorted(f"t{i}" for i in range(len(writers)))
    # The history was built version by version, so it agrees with the audit trail's order.
    assert [h.turn_id for h in session.history][::2] == [t.turn_id for t in turns]


async def test_an_offer_is_kept_until_the_next_write(sessions: Sessions) -> None:
    kept = await sessions.append("s1", 0, write("t1", offered_intent="rebook_flight"))
    assert kept.offered_intent == "rebook_flight"
    assert (await sessions.get("s1", create=False))[0].offered_intent == "rebook_flight"
    # The next turn's reply offered nothing: the offer is gone (a yes later takes up nothing).
    assert (await sessions.append("s1", 1, write("t2"))).offered_intent == ""
    # Two alternatives are kept in order, with what the reply said to ask for each, and a write
    # that offers nothing clears them.
    choices = (
        session_pb2.OfferedRequest(intent="rebook_flight", say="rebook me"),
        session_pb2.OfferedRequest(intent="refund_request", say="refund my flight"),
    )
    kept = await sessions.append("s1", 2, write("t3", offered_choices=choices))
    stored = (await sessions.get("s1", create=False))[0]
    assert list(kept.offered_choices) == list(stored.offered_choices) == list(choices)
    assert not (await sessions.append("s1", 3, write("t4"))).offered_choices


async def test_a_request_awaiting_a_proof_is_kept_only_as_each_write_says(
    sessions: Sessions,
) -> None:
    kept = await sessions.append("s1", 0, write("t1", proof_awaited_intent="loyalty_balance"))
    assert kept.proof_awaited_intent == "loyalty_balance"
    assert (await sessions.get("s1", create=False))[0].proof_awaited_intent == "loyalty_balance"
    assert (await sessions.append("s1", 1, write("t2"))).proof_awaited_intent == ""
