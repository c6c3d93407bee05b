"""A cancellation with no same-day alternative through the whole mesh: C-1005's DL2207 BOS→DEN is
cancelled and nothing else flies that day, so the rebooking offers the next day's flight, asks the
customer to confirm it on its own date, and books it on that date.

The mesh is shared by the test session and other tests rely on K4M9TZ staying on cancelled
DL2207: the fixture puts the trip, the flights' seat counts and Elena's notes back afterwards and
empties the request logs (the storm scenario counts its rebookings and notes over the logs).
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
from switchboard.v1 import common_pb2, events_pb2

ASK = "my flight was cancelled, can you rebook me?"


@pytest.fixture
def stranded(mesh: Mesh) -> Iterator[tuple[date, date]]:
    """K4M9TZ as the demo world has it; yields (the trip's day, DL2209's day) and restores the
    trip afterwards."""
    world = world_of(mesh)
    (segment,) = world.reservations["K4M9TZ"].segments
    assert (segment.flight_number, segment.status) == ("DL2207", "confirmed")
    cancelled = world.flight("DL2207", segment.date)
    next_day = world.flight("DL2209", None)
    assert cancelled is not None and next_day is not None and next_day.date > segment.date
    with trip_restored(mesh, "K4M9TZ", "C-1005", [cancelled, next_day]):
        yield segment.date, next_day.date


def held_for_dl2209(mesh: Mesh, asked: list[events_pb2.TurnEvent], next_day: date) -> None:
    """The rebooking onto DL2209 waits for a yes, and the confirmation names the day it really
    leaves, not the cancelled trip's day; nothing is sent yet."""
    held = finished(asked)["rebookReservation"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in held.verdicts)
    assert (
        "I'm about to move reservation K4M9TZ from flight DL2207 onto flight DL2209 on "
        f"{shown_day(next_day)}, then" in reply(asked)
    ), reply(asked)
    assert not calls(mesh, "booking", "rebookReservation")


@pytest.mark.parametrize("answer", ["book DL2209", "yes"])
def test_the_next_days_flight_is_offered_and_booked_on_its_own_date(
    mesh: Mesh, stranded: tuple[date, date], answer: str
) -> None:
    trip_day, next_day = stranded
    session = "rebook-next-day-" + answer.replace(" ", "-")
    offer = turn(mesh, session, ASK, "C-1005")
    text = reply(offer)
    assert f"There are no seats left on other flights on {shown_day(trip_day)}." in text, text
    assert (
        f"Flights with seats on {shown_day(next_day)}: {listed(mesh, 'DL2209', next_day)}." in text
    ), text
    (search,) = calls(mesh, "booking", "searchFlights")[-1:]
    assert search.query.get("date") == trip_day.isoformat(), search
    assert search.query.get("fallback_days") == "1", search
    assert "rebookReservation" not in finished(offer)

    held_for_dl2209(mesh, turn(mesh, session, answer, "C-1005"), next_day)

    done = turn(mesh, session, "yes", "C-1005")
    (sent,) = calls(mesh, "booking", "rebookReservation")
    assert sent.status == 200, sent
    assert sent.body["flight_number"] == "DL2209"
    assert sent.body["date"] == next_day.isoformat()
    assert finished(done)["rebookReservation"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    (segment,) = world_of(mesh).reservations["K4M9TZ"].segments
    assert (segment.flight_number, segment.date) == ("DL2209", next_day)
    assert reply(done).startswith(
        f"Done: reservation K4M9TZ is now on flight DL2209 on {shown_day(next_day)}"
    ), reply(done)
    # Check-in opens a set time before departure: before then the pass cannot be issued yet,
    # which the reply says, rather than a failure to reach the system.
    boarding = finished(done)["getBoardingPass"]
    if boarding.http_status == 409:
        assert "Check-in for flight DL2209 isn't open yet" in reply(done), reply(done)
    else:
        assert boarding.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, boarding
        assert "Your new boarding pass is below." in reply(done), reply(done)
    (note,) = [r for r in calls(mesh, "crm", "addInteractionNote") if "C-1005" in r.path]
    assert note.body["text"] == f"Rebooked K4M9TZ onto DL2209 on {next_day.isoformat()} in chat."


def test_a_flight_that_was_not_offered_is_not_booked_on_the_tripsshown_day(
    mesh: Mesh, stranded: tuple[date, date]
) -> None:
    _, next_day = stranded
    session = "rebook-next-day-not-offered"
    turn(mesh, session, ASK, "C-1005")
    # The cancelled flight itself: nothing is held for a yes, nothing is sent, and the reply
    # says which flight can be booked instead.
    events = turn(mesh, session, "book DL2207", "C-1005")
    held = finished(events)["rebookReservation"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert not any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in held.verdicts)
    assert not calls(mesh, "booking", "rebookReservation")
    assert reply(events) == (
        "I can't move your trip onto flight DL2207, so nothing has been changed: it isn't one of "
        f"the flights from BOS to DEN with seats left on {shown_day(next_day)}. Those are: "
        f'{listed(mesh, "DL2209", next_day)}. Say, for example, "book DL2209", or ask for '
        "another day."
    ), reply(events)


@pytest.mark.parametrize("opening", [ASK, ""])
def test_after_a_refused_flight_the_day_after_counts_from_the_day_listed(
    mesh: Mesh, stranded: tuple[date, date], opening: str
) -> None:
    """With or without the list first, the flow waits for the flight again, and "the day after"
    counts from the day listed (the trip's own day had nothing), not from the trip's."""
    _, next_day = stranded
    session = f"rebook-next-day-refused-{bool(opening)}"
    if opening:
        turn(mesh, session, opening, "C-1005")
    refused = turn(mesh, session, "please move me onto flight DL2207", "C-1005")
    assert reply(refused).startswith("I can't move your trip onto flight DL2207"), reply(refused)
    later = turn(mesh, session, "what about the day after?", "C-1005")
    (search,) = calls(mesh, "booking", "searchFlights")[-1:]
    assert search.query.get("date") == (next_day + timedelta(days=1)).isoformat(), search
    assert "rebookReservation" not in finished(later)
    assert shown_day(next_day + timedelta(days=1)) in reply(later), reply(later)


def test_a_flight_from_the_list_after_a_refused_one_is_named_by_its_place(
    mesh: Mesh, stranded: tuple[date, date]
) -> None:
    _, next_day = stranded
    session = "rebook-next-day-refused-then-first"
    turn(mesh, session, ASK, "C-1005")
    turn(mesh, session, "book DL2207", "C-1005")
    held_for_dl2209(mesh, turn(mesh, session, "the first one", "C-1005"), next_day)


def test_yes_to_a_colleague_beside_an_empty_list_hands_off(
    mesh: Mesh, stranded: tuple[date, date]
) -> None:
    """No day has seats: the reply offers a colleague while the flow waits for another day or a
    flight. A yes cannot choose from a list of none, so it takes up the offer."""
    _, next_day = stranded
    session = "rebook-next-day-none-then-yes"
    turn(mesh, session, ASK, "C-1005")
    world = world_of(mesh)
    later = [next_day + timedelta(days=n) for n in (1, 2)]
    assert not any(
        f.seats_available("economy") and f.status not in ("departed", "landed")
        for day in later
        for f in world.flights_on("BOS", "DEN", day)
    )
    empty = turn(mesh, session, "what about the day after?", "C-1005")
    assert f"with seats on {shown_day(later[0])} or the day after" in reply(empty), reply(empty)
    assert "connect you with a colleague" in reply(empty)
    assert pending_flow(mesh, session) == "rebook_flight"
    assert session_of(mesh, session).offered_intent == "human_agent"

    handed = turn(mesh, session, "yes", "C-1005")
    assert [e for e in handed if e.WhichOneof("event") == "handoff"], reply(handed)
    assert "nothing waiting for your confirmation" not in reply(handed)
    assert pending_flow(mesh, session) == ""
