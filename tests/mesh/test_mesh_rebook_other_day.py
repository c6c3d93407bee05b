"""A rebooking moved to another day through the whole mesh: C-1001's UA123 ORD→SFO is cancelled
by the storm and the only same-day flight leaves late at night, so the customer asks "what about
the day after?" while that flight is offered. The day after's flights are listed instead, and the
one picked is confirmed and booked on that day.

The mesh is shared by the test session and other tests rely on SBX7Q2 staying on cancelled UA123:
the fixture puts the trip, the flights' seat counts and C-1001's notes back afterwards and empties
the request logs, as test_mesh_rebook_next_day does for K4M9TZ.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from test_mesh_scenarios import (
    calls,
    finished,
    listed,
    pending_flow,
    reply,
    session_of,
    shown_day,
    trip_restored,
    turn,
    world_of,
)

from services.mesh import Mesh
from switchboard.v1 import common_pb2


def _day_after(mesh: Mesh, day: date) -> str:
    """The day after the storm's flights with seats, as the reply lists them."""
    return "; ".join(listed(mesh, number, day) for number in ("UA459", "UA893"))


@pytest.fixture
def storm_trip(mesh: Mesh) -> Iterator[date]:
    """SBX7Q2 as the demo world has it; yields the trip's day and restores the trip afterwards."""
    world = world_of(mesh)
    (segment,) = world.reservations["SBX7Q2"].segments
    assert (segment.flight_number, segment.status) == ("UA123", "confirmed")
    after = segment.date + timedelta(days=1)
    found = [world.flight("UA123", segment.date), world.flight("UA891", segment.date)]
    found += [world.flight(number, after) for number in ("UA459", "UA893")]
    flights = [flight for flight in found if flight is not None]
    assert len(flights) == len(found)
    with trip_restored(mesh, "SBX7Q2", "C-1001", flights):
        yield segment.date


def test_the_day_after_is_listed_and_the_flight_picked_is_booked_on_it(
    mesh: Mesh, storm_trip: date
) -> None:
    trip_day, after = storm_trip, storm_trip + timedelta(days=1)
    session = "rebook-other-day"
    offer = turn(mesh, session, "my flight got cancelled, can you rebook me?", "C-1001")
    same_day = listed(mesh, "UA891", trip_day)
    assert f"Flights with seats that day: {same_day}." in reply(offer), reply(offer)

    # Read as no request of its own, but it answers the rebooking: the day after's search.
    later = turn(mesh, session, "what about the day after?", "C-1001")
    assert "rebookReservation" not in finished(later)
    (search,) = calls(mesh, "booking", "searchFlights")[-1:]
    assert search.query.get("date") == after.isoformat(), search
    assert reply(later).endswith(
        f"Flights from ORD to SFO with seats on {shown_day(after)}: {_day_after(mesh, after)}. "
        "Which one should "
        'I book? Say, for example, "book UA459".'
    ), reply(later)
    assert "UA891" not in reply(later)
    assert pending_flow(mesh, session) == "rebook_flight"

    # An answer from the new list, confirmed on the day it flies.
    picked = turn(mesh, session, "the 7:40 pm one", "C-1001")
    assert finished(picked)["rebookReservation"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert (
        "I'm about to move reservation SBX7Q2 from flight UA123 onto flight UA893 on "
        f"{shown_day(after)}, then" in reply(picked)
    ), reply(picked)
    assert not calls(mesh, "booking", "rebookReservation")

    done = turn(mesh, session, "yes", "C-1001")
    (sent,) = calls(mesh, "booking", "rebookReservation")
    assert sent.status == 200, sent
    assert (sent.body["flight_number"], sent.body["date"]) == ("UA893", after.isoformat())
    (segment,) = world_of(mesh).reservations["SBX7Q2"].segments
    assert (segment.flight_number, segment.date) == ("UA893", after)
    assert segment.date != trip_day
    assert reply(done).startswith(
        f"Done: reservation SBX7Q2 is now on flight UA893 on {shown_day(after)}"
    ), reply(done)
    (note,) = [r for r in calls(mesh, "crm", "addInteractionNote") if "C-1001" in r.path]
    assert note.body["text"] == f"Rebooked SBX7Q2 onto UA893 on {after.isoformat()} in chat."


def test_a_day_with_nothing_to_book_says_so_and_keeps_the_rebooking_open(
    mesh: Mesh, storm_trip: date
) -> None:
    empty = storm_trip + timedelta(days=3)
    session = "rebook-other-day-empty"
    turn(mesh, session, "my flight got cancelled, can you rebook me?", "C-1001")
    asked = turn(mesh, session, "is there anything three days later?", "C-1001")
    (search,) = calls(mesh, "booking", "searchFlights")[-1:]
    assert search.query.get("date") == empty.isoformat(), search
    assert (
        f"There are no flights from ORD to SFO with seats on {shown_day(empty)} or the day after."
        in reply(asked)
    ), reply(asked)
    assert "rebookReservation" not in finished(asked)
    # "The day after" counts from the day asked about last, and finds nothing either.
    next_to_it = turn(mesh, session, "and the day after?", "C-1001")
    (search,) = calls(mesh, "booking", "searchFlights")[-1:]
    assert search.query.get("date") == (empty + timedelta(days=1)).isoformat(), search
    assert "There are no flights from ORD to SFO with seats on" in reply(next_to_it)
    # A date named outright is still an answer.
    after = storm_trip + timedelta(days=1)
    back = turn(mesh, session, f"what about {after.isoformat()}?", "C-1001")
    assert f"{_day_after(mesh, after)}." in reply(back), reply(back)
    assert not calls(mesh, "booking", "rebookReservation")


@pytest.mark.parametrize(
    "ask",
    [
        "actually, what about the day after?",
        # Read as a rebooking: once it would have been told "Not yet" about the held change.
        "can you rebook me onto the day after instead?",
    ],
)
def test_another_day_asked_while_a_change_waits_for_a_yes_drops_that_change(
    mesh: Mesh, storm_trip: date, ask: str
) -> None:
    after = storm_trip + timedelta(days=1)
    session = "rebook-other-day-held-" + str(len(ask))
    turn(mesh, session, "my flight got cancelled, can you rebook me?", "C-1001")
    held = turn(mesh, session, "book UA891", "C-1001")
    assert "onto flight UA891 on" in reply(held), reply(held)
    assert session_of(mesh, session).pending_plan.steps

    # Not a yes, nor the question "did you rebook me?": the day after's flights instead.
    other = turn(mesh, session, ask, "C-1001")
    (search,) = calls(mesh, "booking", "searchFlights")[-1:]
    assert search.query.get("date") == after.isoformat(), search
    assert f"{_day_after(mesh, after)}." in reply(other), reply(other)
    stored = session_of(mesh, session)
    assert not stored.pending_plan.steps
    assert stored.pending_flow == "rebook_flight"

    # The yes that follows answers nothing held: UA891 is never booked.
    turn(mesh, session, "yes", "C-1001")
    assert not calls(mesh, "booking", "rebookReservation")
    (segment,) = world_of(mesh).reservations["SBX7Q2"].segments
    assert segment.flight_number == "UA123"
