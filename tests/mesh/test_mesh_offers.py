"""A plain yes to what the last reply offered to do takes it up, through the whole mesh.

"I can look for another flight for you" used to be followed by "yes please" → "There's nothing
waiting for your confirmation right now". The reply now says which request it offers
(`offer('rebook_flight')` in the flow), the session keeps it for one turn
(`Session.offered_intent`), and a clear yes on the next turn is that request. Nothing is booked
here: the rebooking still lists the flights and waits for the customer's choice.
"""

from __future__ import annotations

from test_mesh_scenarios import calls, finished, intent, pending_flow, reply, session_of, turn

from services.mesh import Mesh

CUSTOMER = "C-1001"


def test_yes_to_an_offer_makes_the_request_offered(mesh: Mesh) -> None:
    session = "offer-yes-1"
    news = turn(mesh, session, "is flight UA 123 on time?", CUSTOMER)
    assert "I can look for another flight for you." in reply(news), reply(news)
    assert session_of(mesh, session).offered_intent == "rebook_flight"

    before = len(calls(mesh, "booking", "rebookReservation"))
    taken = turn(mesh, session, "yes please", CUSTOMER)
    assert intent(taken) == "confirm"  # the classifier's reading stays on the stream
    plans = [e.plan.plan for e in taken if e.WhichOneof("event") == "plan"]
    assert [p.flow for p in plans] == ["rebook_flight"], plans
    assert "searchFlights" in finished(taken)
    assert "Flights with seats that day: UA891" in reply(taken), reply(taken)
    assert pending_flow(mesh, session) == "rebook_flight"
    assert session_of(mesh, session).offered_intent == ""
    assert len(calls(mesh, "booking", "rebookReservation")) == before


def test_an_offer_lasts_one_turn_and_a_hedged_yes_does_not_take_it(mesh: Mesh) -> None:
    session = "offer-yes-2"
    turn(mesh, session, "is flight UA 123 on time?", CUSTOMER)
    hedged = turn(mesh, session, "sure, but is there a fee?", CUSTOMER)
    assert "rebook_flight" not in [
        e.plan.plan.flow for e in hedged if e.WhichOneof("event") == "plan"
    ]
    assert "searchFlights" not in finished(hedged)

    turn(mesh, session, "is flight UA 123 on time?", CUSTOMER)
    thanked = turn(mesh, session, "thanks", CUSTOMER)
    assert intent(thanked) == "thanks"
    assert session_of(mesh, session).offered_intent == ""
    late = turn(mesh, session, "yes", CUSTOMER)
    assert "searchFlights" not in finished(late)
    assert "nothing waiting for your confirmation" in reply(late), reply(late)
