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


def test_a_yes_to_two_offers_is_asked_which(mesh: Mesh) -> None:
    # The customer's own trip is cancelled: the reply offers a rebooking and a refund, each with
    # what to say for it. A yes cannot mean both.
    session = "offer-two-1"
    news = turn(mesh, session, "hi, my flight got cancelled because of the storm", CUSTOMER)
    assert 'say "rebook me"' in reply(news) and 'say "refund my flight"' in reply(news)
    offered = session_of(mesh, session)
    assert offered.offered_intent == ""
    assert [(c.intent, c.say) for c in offered.offered_choices] == [
        ("rebook_flight", "rebook me"),
        ("refund_request", "refund my flight"),
    ]

    asked = turn(mesh, session, "ok", CUSTOMER)
    assert reply(asked) == 'Happy to. Which would you like? Say "rebook me" or "refund my flight".'
    assert not [e for e in asked if e.WhichOneof("event") == "plan"]
    assert not finished(asked)
    # The choices stay open for the answer, which then goes its usual way.
    assert len(session_of(mesh, session).offered_choices) == 2
    chosen = turn(mesh, session, "rebook me", CUSTOMER)
    assert intent(chosen) == "rebook_flight"
    assert "Flights with seats that day: UA891" in reply(chosen), reply(chosen)
    assert not session_of(mesh, session).offered_choices


def test_no_to_two_offers_turns_them_down(mesh: Mesh) -> None:
    session = "offer-two-2"
    turn(mesh, session, "hi, my flight got cancelled because of the storm", CUSTOMER)
    declined = turn(mesh, session, "n", CUSTOMER)
    assert reply(declined).startswith("Alright, I won't go ahead with that."), reply(declined)
    assert not finished(declined)
    assert not session_of(mesh, session).offered_choices


def test_two_offers_are_picked_by_their_place_in_the_reply(mesh: Mesh) -> None:
    session = "offer-two-3"
    turn(mesh, session, "hi, my flight got cancelled because of the storm", CUSTOMER)
    asked = turn(mesh, session, "yes", CUSTOMER)
    assert reply(asked).startswith("Happy to. Which would you like?"), reply(asked)
    before = len(calls(mesh, "booking", "rebookReservation"))
    # The first offer, as the reply listed it: the rebooking lists the flights with seats.
    first = turn(mesh, session, "the first one", CUSTOMER)
    plans = [e.plan.plan for e in first if e.WhichOneof("event") == "plan"]
    assert [p.flow for p in plans] == ["rebook_flight"], plans
    assert "Flights with seats that day: UA891" in reply(first), reply(first)
    assert not session_of(mesh, session).offered_choices
    assert len(calls(mesh, "booking", "rebookReservation")) == before

    # Straight after the news, "the second one" is the refund; nothing is refunded before the
    # customer confirms it.
    session = "offer-two-4"
    turn(mesh, session, "hi, my flight got cancelled because of the storm", CUSTOMER)
    second = turn(mesh, session, "the second one please", CUSTOMER)
    plans = [e.plan.plan for e in second if e.WhichOneof("event") == "plan"]
    assert [p.flow for p in plans] == ["refund_request"], plans
    assert not calls(mesh, "payments", "createRefund")

    # A place past the offers picks nothing.
    session = "offer-two-5"
    turn(mesh, session, "hi, my flight got cancelled because of the storm", CUSTOMER)
    past = turn(mesh, session, "the third one", CUSTOMER)
    assert "refund_request" not in [
        e.plan.plan.flow for e in past if e.WhichOneof("event") == "plan"
    ]
    assert "rebook_flight" not in [
        e.plan.plan.flow for e in past if e.WhichOneof("event") == "plan"
    ]
