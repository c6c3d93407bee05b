"""A traveller's first words about "my flight" through the whole mesh: a known customer's own
reservation is read for the flight's status, a cancelled one comes with what they can do next, and
"what are my options?" after it stays with the airline.

The mesh (and the booking mock's state) is shared by the session: these turns never confirm a
rebooking or a refund, so C-1001's trip stays on cancelled UA123 as the storm scenario expects it.
"""

from __future__ import annotations

import pytest
from test_mesh_choices import plan_of, trips_of
from test_mesh_scenarios import calls, finished, intent, pending_flow, reply, shown_at, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

FLIGHT_NUMBER_QUESTION = (
    'Which flight is it? Please give me the flight number, for example "UA 123".'
)
ACTIONS = ("rebookReservation", "cancelReservation")


def succeeded(events: list[events_pb2.TurnEvent], *tools: str) -> bool:
    results = finished(events)
    return all(
        tool in results and results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
        for tool in tools
    )


def fell_back(events: list[events_pb2.TurnEvent]) -> bool:
    return any(e.WhichOneof("event") == "fallback" for e in events)


@pytest.mark.parametrize(
    "message", ["hi, my flight got cancelled because of the storm", "my flight got cancelled"]
)
def test_a_known_customer_hears_their_flight_is_cancelled_and_what_they_can_do(
    mesh: Mesh, message: str
) -> None:
    session = "my-flight-cancelled-" + message.replace(" ", "-").replace(",", "")
    told = turn(mesh, session, message, "C-1001")
    text = reply(told)
    # Not asked for a flight number, nor which of several things they mean: their own
    # reservation is read and its flight's status said.
    assert intent(told) == "flight_status" and not fell_back(told), text
    assert succeeded(told, "listCustomerReservations", "getReservation", "getFlightStatus"), text
    assert text.startswith("I'm sorry: your flight UA123 from ORD to SFO on "), text
    assert "(reservation SBX7Q2) is cancelled (weather: winter storm" in text, text
    # What can be done next, in the words that start the flows that do it.
    assert 'say "rebook me"' in text and 'say "refund my flight"' in text, text
    assert pending_flow(mesh, session) == ""
    assert not set(ACTIONS) & set(finished(told))


def test_each_next_step_offered_leads_to_the_flow_that_does_it(mesh: Mesh) -> None:
    before = len(calls(mesh, "booking", *ACTIONS)), len(calls(mesh, "payments", "createRefund"))
    told = turn(mesh, "my-flight-next-rebook", "my flight was cancelled", "C-1001")
    assert 'say "rebook me"' in reply(told), reply(told)
    rebook = turn(mesh, "my-flight-next-rebook", "rebook me", "C-1001")
    assert intent(rebook) == "rebook_flight"
    assert "Flights with seats that day: UA891 at" in reply(rebook), reply(rebook)
    assert shown_at("UA891", "21:10").search(reply(rebook)), reply(rebook)
    assert "rebookReservation" not in finished(rebook)
    turn(mesh, "my-flight-next-rebook", "no thanks", "C-1001")

    told = turn(mesh, "my-flight-next-refund", "my flight was cancelled", "C-1001")
    assert 'say "refund my flight"' in reply(told), reply(told)
    refund = turn(mesh, "my-flight-next-refund", "refund my flight", "C-1001")
    assert intent(refund) == "refund_request"
    # The refund of the cancelled flight's fare, held for the customer's yes (never given here).
    assert "whose flight UA123 was cancelled" in reply(refund), reply(refund)
    assert "Reply yes to go ahead" in reply(refund), reply(refund)
    turn(mesh, "my-flight-next-refund", "no, don't do that", "C-1001")
    after = len(calls(mesh, "booking", *ACTIONS)), len(calls(mesh, "payments", "createRefund"))
    assert after == before


@pytest.mark.parametrize("question", ["what are my options?", "so what are my options?"])
def test_what_are_my_options_after_the_cancellation_shows_the_flights_to_move_to(
    mesh: Mesh, question: str
) -> None:
    session = "my-flight-options-" + question.replace(" ", "-").rstrip("?")
    turn(mesh, session, "hi, my flight got cancelled because of the storm", "C-1001")
    options = turn(mesh, session, question, "C-1001")
    text = reply(options)
    # An airline answer about this trip, not a dental plan's benefits.
    assert intent(options) == "rebook_flight", text
    assert "Your flight UA123 from ORD to SFO is cancelled" in text, text
    assert shown_at("UA891", "21:10").search(text) and "Which one should I book?" in text, text
    assert "rebookReservation" not in finished(options)
    assert pending_flow(mesh, session) == "rebook_flight"
    turn(mesh, session, "no thanks", "C-1001")


def test_a_customer_with_two_trips_is_asked_which_flight_then_told_its_status(
    mesh: Mesh,
) -> None:
    customer, session = "C-5607", "my-flight-two-trips"
    trips = trips_of(mesh, customer)
    assert len(trips) == 2, trips
    asked = turn(mesh, session, "is my flight on time?", customer)
    text = reply(asked)
    assert text.startswith("You have 2 reservations: "), text
    assert all(code in text and trip["flight"] in text for code, trip in trips.items()), text
    assert "Which flight should I check?" in text, text
    # The status waits for the answer: no flight was looked up yet.
    assert not succeeded(asked, "getFlightStatus")
    assert pending_flow(mesh, session) == "flight_status"
    shown = sorted(trips, key=text.index)

    answered = turn(mesh, session, "the second one", customer)
    plan = plan_of(answered)
    assert plan.flow == "flight_status" and plan.slots["pnr"] == shown[1]
    assert succeeded(answered, "getReservation", "getFlightStatus"), reply(answered)
    status = finished(answered)["getFlightStatus"]
    chosen = trips[shown[1]]
    assert status.result["flight_number"] == chosen["flight"]
    assert status.result["date"] == chosen["date"].isoformat()
    # Whatever its status: "Flight UA457 from ORD to SFO is on time", "I'm sorry: flight ...".
    told = f"light {chosen['flight']} from {chosen['origin']} to"
    assert told in reply(answered), reply(answered)
    assert pending_flow(mesh, session) == ""


def test_a_known_customer_without_a_trip_is_asked_the_flight_number_and_can_give_it(
    mesh: Mesh,
) -> None:
    customer, session = "C-1002", "my-flight-no-trip"
    assert not trips_of(mesh, customer)
    asked = turn(mesh, session, "is my flight on time?", customer)
    assert succeeded(asked, "listCustomerReservations")
    assert reply(asked) == (
        "I couldn't find a confirmed trip on your account. " + FLIGHT_NUMBER_QUESTION
    )
    answered = turn(mesh, session, "UA 123", customer)
    assert succeeded(answered, "getFlightStatus"), reply(answered)
    assert reply(answered).startswith("I'm sorry: flight UA123 from ORD to SFO"), reply(answered)


def test_an_anonymous_traveller_is_asked_the_flight_number_and_a_number_reads_no_trip(
    mesh: Mesh,
) -> None:
    asked = turn(mesh, "my-flight-anonymous", "my flight got cancelled", "")
    assert intent(asked) == "flight_status" and not fell_back(asked), reply(asked)
    assert reply(asked) == FLIGHT_NUMBER_QUESTION and not finished(asked)
    assert pending_flow(mesh, "my-flight-anonymous") == "flight_status"

    # A known customer who names the flight gets that flight, as before: no trip is read.
    named = turn(mesh, "my-flight-named", "my flight UA 123 got cancelled", "C-1001")
    assert set(finished(named)) == {"getFlightStatus"}, reply(named)
    assert reply(named).startswith("I'm sorry: flight UA123 from ORD to SFO"), reply(named)
