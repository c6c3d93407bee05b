"""Through the whole mesh: "which one is it?" answered by what the list showed, and the seat kind
asked for carried to that answer (and no further)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml
from test_mesh_scenarios import masked, reply, session_of, turn

from mocks.common.app import backend_of
from services.config import load_settings
from services.mesh import Mesh
from switchboard.v1 import (
    common_pb2,
    events_pb2,
)

_MONTHS = (
    "January February March April May June July August September October November December".split()
)
_WINDOW_LINE = re.compile(r"(Free window seats in \w+: [0-9A-K, ]+\.|no free window seats in)")


def plan_of(events: list[events_pb2.TurnEvent]) -> common_pb2.Plan:
    (plan,) = [e.plan.plan for e in events if e.WhichOneof("event") == "plan"]
    return plan


def fell_back(events: list[events_pb2.TurnEvent]) -> bool:
    return any(e.WhichOneof("event") == "fallback" for e in events)


def read_reservations(mesh: Mesh) -> list[str]:
    """The paths of the booking backend's getReservation calls since its log was cleared."""
    log = backend_of(mesh.mocks.apps["booking"]).log
    return [r.path for r in log.records() if r.operation_id == "getReservation"]


def trips_of(mesh: Mesh, customer: str) -> dict[str, dict[str, Any]]:
    """The customer's confirmed reservations, by code: the first flight's facts."""
    world = mesh.mocks.world
    found = {}
    for reservation in world.reservations_of(customer):
        if reservation.status != "confirmed":
            continue
        segment = reservation.segments[0]
        flight = world.flight(segment.flight_number, segment.date)
        found[reservation.pnr] = {
            "flight": segment.flight_number,
            "date": segment.date,
            "origin": flight.origin,
            "destination": flight.destination,
        }
    return found


def city() -> dict[str, str]:
    """Each airport code's first name in the shipped airline pack's ``places``."""
    path = load_settings().planner.flows_dir / "airline.yaml"
    places = yaml.safe_load(path.read_text(encoding="utf-8"))["places"]
    return {code: names[0] for code, names in places.items()}


def naming(trips: dict[str, dict[str, Any]], code: str) -> list[str]:
    """Answers that name reservation ``code`` alone among ``trips`` by what the list shows."""
    names = city()
    trip = trips[code]
    day: date = trip["date"]
    candidates = [
        (f"the {_MONTHS[day.month - 1]} one", lambda t: t["date"].month == day.month),
        (
            f"the one to {names[trip['destination']]}",
            lambda t: t["destination"] == trip["destination"],
        ),
        (f"the {trip['flight']} one", lambda t: t["flight"] == trip["flight"]),
    ]
    return [text for text, fits in candidates if [c for c, t in trips.items() if fits(t)] == [code]]


def test_a_window_seat_carries_to_an_answer_by_what_the_list_showed(mesh: Mesh) -> None:
    customer, session = "C-5607", "choice-1"
    trips = trips_of(mesh, customer)
    assert len(trips) == 2, trips
    asked = turn(mesh, session, "I'd like a window seat", customer)
    text = reply(asked)
    assert "Which one is it?" in text, text
    shown = sorted(trips, key=text.index)
    for code in shown:  # the list shows the route: the answer may name it
        trip = trips[code]
        assert f"{code} ({trip['flight']} {trip['origin']}→{trip['destination']} on " in text, text
    stored = session_of(mesh, session)
    assert stored.pending_flow == "seat_selection"
    assert stored.slots["pnr_options"] == " ".join(shown)
    assert stored.slots["pnr_shown"].count("flight=") == 2  # what was shown, nothing more

    # "The December one" when the months tell the trips apart, else the destination or flight;
    # an answer the pii service leaves as it is.
    answer = next(a for a in naming(trips, shown[1]) if masked(mesh, a) == a)
    backend_of(mesh.mocks.apps["booking"]).log.clear()
    answered = turn(mesh, session, answer, customer)
    assert not fell_back(answered), reply(answered)
    plan = plan_of(answered)
    assert plan.flow == "seat_selection" and plan.slots["pnr"] == shown[1], answer
    assert plan.slots["kind"] == "window"
    (read,) = read_reservations(mesh)
    assert shown[1] in read and shown[0] not in read
    text = reply(answered)
    assert f"(reservation {shown[1]})" in text and _WINDOW_LINE.search(text), text
    stored = session_of(mesh, session)
    assert stored.pending_flow == "" and "pnr_options" not in stored.slots

    # A later seat request in the same session does not want a window seat any more.
    later = turn(mesh, session, "Can I see the seat map?", customer)
    text = reply(later)
    assert plan_of(later).flow == "seat_selection" and "seat map for flight" in text, text
    assert "window" not in text and "kind" not in plan_of(later).slots, text


def test_an_answer_fitting_both_reservations_asks_again(mesh: Mesh) -> None:
    world, names = mesh.mocks.world, city()
    # A customer whose two trips fly to the same airport (fixed by the world's seed).
    customer, trips = next(
        (customer, trips)
        for customer in world.customers
        if len(trips := trips_of(mesh, customer)) == 2
        and len({t["destination"] for t in trips.values()}) == 1
        and masked(mesh, f"the one to {names[next(iter(trips.values()))['destination']]}")
        == f"the one to {names[next(iter(trips.values()))['destination']]}"
    )
    session = "choice-2"
    text = reply(turn(mesh, session, "I'd like a window seat", customer))
    shown = sorted(trips, key=text.index)
    backend_of(mesh.mocks.apps["booking"]).log.clear()
    both = turn(mesh, session, f"the one to {names[trips[shown[0]]['destination']]}", customer)
    text = reply(both)
    assert text.startswith(f"Both {shown[0]} and {shown[1]} fit that. Which one is it: "), text
    assert plan_of(both).missing_slots == ["pnr"] and not read_reservations(mesh)
    assert session_of(mesh, session).pending_flow == "seat_selection"

    # Asked again, the list still stands, and so does the window seat.
    answered = turn(mesh, session, "the second one", customer)
    assert plan_of(answered).slots["pnr"] == shown[1]
    assert _WINDOW_LINE.search(reply(answered)), reply(answered)


def test_an_answer_fitting_neither_reservation_asks_again(mesh: Mesh) -> None:
    customer, session = "C-5607", "choice-3"
    trips = trips_of(mesh, customer)
    names = city()
    elsewhere = next(
        names[code]
        for code in sorted(names)
        if all(code not in (t["origin"], t["destination"]) for t in trips.values())
        and masked(mesh, names[code]) == names[code]
    )
    text = reply(turn(mesh, session, "I'd like a window seat", customer))
    shown = sorted(trips, key=text.index)
    backend_of(mesh.mocks.apps["booking"]).log.clear()
    neither = turn(mesh, session, f"the one to {elsewhere}", customer)
    text = reply(neither)
    assert text.startswith("I can't tell which reservation you mean. Which one is it: "), text
    assert all(code in text for code in shown) and not read_reservations(mesh)
    assert session_of(mesh, session).pending_flow == "seat_selection"

    answered = turn(mesh, session, shown[0], customer)
    assert plan_of(answered).slots["pnr"] == shown[0]
    assert _WINDOW_LINE.search(reply(answered)), reply(answered)
