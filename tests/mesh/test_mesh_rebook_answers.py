"""Answers to the rebooking's offer through the whole mesh: the flight offered is picked by "yes",
"that one", its time or its position, and the change still waits for the customer's confirmation.

The mesh (and the booking mock's state) is shared by the session: these turns never confirm, so
C-1001's cancelled trip stays as the storm scenario expects it.
"""

from __future__ import annotations

import pytest
from test_mesh_choices import plan_of, trips_of
from test_mesh_scenarios import calls, finished, pending_flow, reply, shown_at, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

ASK = "I need to rebook SBX7Q2 onto a later flight"


def proposed_flight(events: list[events_pb2.TurnEvent]) -> str:
    """The flight the turn's plan would rebook onto."""
    (plan,) = [e.plan.plan for e in events if e.WhichOneof("event") == "plan"]
    (rebook,) = [s for s in plan.steps if s.tool == "rebookReservation"]
    return str(rebook.arguments["flight_number"])


@pytest.mark.parametrize(
    "answer",
    ["the later one is fine", "yes", "that one", "ok book it", "the 21:10 one", "the first one"],
)
def test_an_answer_to_the_offer_leads_to_the_confirmation_of_that_flight(
    mesh: Mesh, answer: str
) -> None:
    session = "rebook-answer-" + answer.replace(" ", "-").replace(":", "")
    before = len(calls(mesh, "booking", "rebookReservation"))
    offer = turn(mesh, session, ASK, "C-1001")
    assert shown_at("UA891", "21:10").search(reply(offer)), reply(offer)
    assert "rebookReservation" not in finished(offer)
    assert pending_flow(mesh, session) == "rebook_flight"

    picked = turn(mesh, session, answer, "C-1001")
    assert reply(picked) != reply(offer)
    held = finished(picked)["rebookReservation"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in held.verdicts)
    # The same confirmation question as for "book UA891", for the flight offered, naming what
    # changes: the reservation, the flight it leaves and the one it moves to.
    assert "confirm" in reply(picked).lower() and proposed_flight(picked) == "UA891"
    assert "I'm about to move reservation SBX7Q2 from flight " in reply(picked), reply(picked)
    assert " onto flight UA891 on " in reply(picked), reply(picked)
    assert len(calls(mesh, "booking", "rebookReservation")) == before

    # Declined: the change is dropped, nothing was rebooked.
    declined = turn(mesh, session, "no, don't do that", "C-1001")
    assert "rebookReservation" not in finished(declined)
    assert len(calls(mesh, "booking", "rebookReservation")) == before


def test_an_answer_naming_no_offered_flight_is_asked_again(mesh: Mesh) -> None:
    session = "rebook-answer-unclear"
    before = len(calls(mesh, "booking", "rebookReservation"))
    turn(mesh, session, ASK, "C-1001")
    again = turn(mesh, session, "the 18:00 one", "C-1001")
    assert "rebookReservation" not in finished(again)
    assert reply(again).startswith("I can't tell which flight you mean.")
    assert shown_at("UA891", "21:10").search(reply(again)), reply(again)
    assert pending_flow(mesh, session) == "rebook_flight"
    # The list is kept for the next answer.
    picked = turn(mesh, session, "yes", "C-1001")
    assert finished(picked)["rebookReservation"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert proposed_flight(picked) == "UA891"
    turn(mesh, session, "no", "C-1001")
    assert len(calls(mesh, "booking", "rebookReservation")) == before


def test_the_trip_named_is_the_one_rebooked(mesh: Mesh) -> None:
    # C-5607 has two trips; the one named is the one whose flights are offered, not the first.
    trips = trips_of(mesh, "C-5607")
    assert len(trips) == 2, trips
    for code, trip in trips.items():
        offer = turn(
            mesh,
            f"rebook-named-{code}",
            f"I need to rebook reservation {code} onto a later flight",
            "C-5607",
        )
        text = reply(offer)
        assert text.startswith(f"Your flight {trip['flight']} from {trip['origin']} to "), text
        (other,) = [t["flight"] for c, t in trips.items() if c != code]
        assert other not in text, text


def test_a_customer_with_two_trips_is_asked_which_one_to_change(mesh: Mesh) -> None:
    trips = trips_of(mesh, "C-5607")
    session = "rebook-which-trip"
    asked = turn(mesh, session, "I need to change my flight", "C-5607")
    text = reply(asked)
    assert text.startswith("You have 2 reservations: ") and "Which one should I change?" in text
    # No flight is offered before the trip is known.
    assert "Flights with seats" not in text and pending_flow(mesh, session) == "rebook_flight"
    shown = sorted(trips, key=text.index)

    answered = turn(mesh, session, f"the {trips[shown[1]]['flight']} one", "C-5607")
    assert plan_of(answered).slots["pnr"] == shown[1]
    trip = trips[shown[1]]
    assert reply(answered).startswith(f"Your flight {trip['flight']} from {trip['origin']} to ")
    assert "rebookReservation" not in finished(answered)
