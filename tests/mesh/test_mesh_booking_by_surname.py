"""A traveller without the customer number names the trip by its code and surname, as at an
airline's "manage booking": through the whole mesh, in a chat that serves no customer, the trip
is read and may be moved to another flight (after the customer's yes), never cancelled before a
verified identity; the surname reaches the booking system only, the planner and the session
see a placeholder; a wrong surname reads nothing."""

from __future__ import annotations

import itertools
import re

from test_mesh_scenarios import calls, finished, reply, session_of, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

_ids = itertools.count()

#: Elena Rossi's reservation (C-1005; DL2207 BOS→DEN tomorrow, cancelled by the airline)
ELENAS = "K4M9TZ"
ANONYMOUS = ""
PLACEHOLDER = re.compile(r"<PERSON_[0-9]+>")


def _session() -> str:
    return f"by-surname-{next(_ids)}"


def _rules(events: list[events_pb2.TurnEvent]) -> set[str]:
    return {e.policy.rule_id for e in events if e.WhichOneof("event") == "policy"}


def test_a_trip_named_by_code_and_surname_is_read_and_may_be_moved(mesh: Mesh) -> None:
    assert mesh.mocks.world is not None
    trip = mesh.mocks.world.reservations[ELENAS]
    session = _session()

    asked = turn(mesh, session, "my flight got cancelled, can you rebook me?", ANONYMOUS)
    assert "surname on the booking" in reply(asked), reply(asked)
    assert not finished(asked)

    reads = len(calls(mesh, "booking", "getReservation"))
    named = turn(mesh, session, f"{ELENAS}, Rossi", ANONYMOUS)
    read = finished(named)["getReservation"]
    assert read.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, read
    # The planner and the turn's record hold a placeholder; the booking system got the name.
    assert PLACEHOLDER.fullmatch(read.arguments["last_name"]), read.arguments
    assert "customer_id" not in read.arguments
    sent = calls(mesh, "booking", "getReservation")[reads:]
    assert sent and all(r.query.get("last_name") == "Rossi" for r in sent)
    assert "DL2207" in reply(named) and "cancelled" in reply(named)

    # A move to another flight is the booking's own change: asked for the yes, not refused.
    move = turn(mesh, session, "book DL2209", ANONYMOUS)
    assert "airline/account-change-needs-verified-identity" not in _rules(move)
    assert "base/contract-requires-confirmation" in _rules(move)
    assert "Reply yes to go ahead" in reply(move), reply(move)
    # Declined: nothing moved.
    turn(mesh, session, "no", ANONYMOUS)
    assert trip.segments[0].flight_number == "DL2207"

    # A cancellation (money back) waits for a verified customer.
    cancels = len(calls(mesh, "booking", "cancelReservation"))
    cancel = turn(mesh, session, "cancel it", ANONYMOUS)
    assert "airline/account-change-needs-verified-identity" in _rules(cancel)
    assert reply(cancel).startswith(f"I haven't cancelled reservation {ELENAS}."), reply(cancel)
    turn(mesh, session, "yes", ANONYMOUS)
    assert len(calls(mesh, "booking", "cancelReservation")) == cancels
    assert trip.status == "confirmed"

    # Nothing of the name was kept in the clear.
    assert "Rossi" not in str(session_of(mesh, session))


def test_a_wrong_surname_reads_nothing(mesh: Mesh) -> None:
    wrong = turn(mesh, _session(), f"boarding pass for {ELENAS}, surname Chen", ANONYMOUS)
    read = finished(wrong)["getReservation"]
    assert (read.outcome, read.http_status) == (common_pb2.STEP_OUTCOME_FAILED, 404)
    assert reply(wrong) == (
        f"I couldn't find reservation {ELENAS} under that surname. Could you check the code and "
        "the surname on the booking?"
    )
    assert "DL2207" not in reply(wrong)


def test_a_code_tried_against_many_surnames_is_locked(mesh: Mesh) -> None:
    # A code no reservation has: the lock tells nothing of whether it exists.
    session = _session()
    for surname in ("Chen", "Okafor", "Silva", "Tanaka", "Murphy"):
        missed = turn(mesh, session, f"boarding pass for QQ7Q7Q, surname {surname}", ANONYMOUS)
        assert finished(missed)["getReservation"].http_status == 404
    locked = turn(mesh, session, "boarding pass for QQ7Q7Q, surname Novak", ANONYMOUS)
    assert finished(locked)["getReservation"].http_status == 403
    assert reply(locked).startswith("I can't open reservation QQ7Q7Q by a surname just now"), reply(
        locked
    )


def test_my_flights_status_by_code_and_surname(mesh: Mesh) -> None:
    # Both in one message: the trip is read for its flight, whose status is the answer.
    session = _session()
    reads = len(calls(mesh, "booking", "getReservation"))
    status = turn(
        mesh, session, f"is my flight on time? booking {ELENAS}, surname Rossi", ANONYMOUS
    )
    assert finished(status)["getFlightStatus"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    sent = calls(mesh, "booking", "getReservation")[reads:]
    assert [r.query.get("last_name") for r in sent] == ["Rossi"]
    said = reply(status)
    assert "your flight DL2207 from BOS to DEN" in said and "is cancelled" in said, said
    assert "Rossi" not in str(session_of(mesh, session))
    # The surname is kept with the code: the next request on the trip needs neither again.
    seats = turn(mesh, session, "which seats are free?", ANONYMOUS)
    assert finished(seats)["getReservation"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED

    # Worded so that the details alone read as a rebooking once: still one request, the
    # status, and nothing left waiting (no rebooking's look-ups, no flight choice asked for).
    session = _session()
    status = turn(mesh, session, "is my flight on time? booking SBX7Q2, last name Chen", ANONYMOUS)
    assert set(finished(status)) == {"getReservation", "getFlightStatus"}, finished(status)
    assert "your flight UA123" in reply(status), reply(status)
    assert not session_of(mesh, session).pending_flow

    # The code alone: the surname is asked for, not the flight number, and then answers.
    session = _session()
    asked = turn(
        mesh, session, f"what time does my flight leave? my booking is {ELENAS}", ANONYMOUS
    )
    assert reply(asked).startswith("What's the surname on the booking?"), reply(asked)
    assert not finished(asked)
    answered = turn(mesh, session, "Rossi", ANONYMOUS)
    assert "your flight DL2207" in reply(answered), reply(answered)
