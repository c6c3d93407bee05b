"""A follow-up that names only a new detail is the last request again, through the whole mesh.

"What about an extraction?" after a coverage check reads as nothing clear on its own (out of
scope, 0.87); the session remembers the request served last (`Session.served_intent`), and the
router asks the planner whether the words give that request's flow a detail. A message that is a
request of its own ("and rebook me on UA 891") goes its usual way. A question asking why of what
was shown ("why is it pending?") gets the last request again when its flow only reads.
"""

from __future__ import annotations

from test_mesh_scenarios import (
    calls,
    finished,
    intent,
    reply,
    session_of,
    trip_restored,
    turn,
    world_of,
)
from wallet_customers import AskedWithdrawal

from services.mesh import Mesh
from switchboard.v1 import common_pb2

OFFICE = "P-7001"


def test_what_about_another_treatment_checks_it_for_the_same_member_and_day(mesh: Mesh) -> None:
    session = "follow-up-dental-1"
    first = turn(mesh, session, "is M-3001 covered for a root canal tomorrow?", OFFICE)
    assert "eligible for root canal" in reply(first), reply(first)
    assert session_of(mesh, session).served_intent == "eligibility_check"

    before = len(calls(mesh, "claims", "checkEligibility"))
    extraction = turn(mesh, session, "what about an extraction?", OFFICE)
    assert intent(extraction) == "out_of_scope"  # alone, the words are no request
    checked = finished(extraction)["checkEligibility"]
    assert checked.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    (call,) = calls(mesh, "claims", "checkEligibility")[before:]
    assert "D7140" in str(call), call
    assert "eligible for extraction" in reply(extraction), reply(extraction)
    assert not [e for e in extraction if e.WhichOneof("event") == "fallback"]

    crown = turn(mesh, session, "what about a crown?", OFFICE)
    assert reply(crown).startswith("Which crown is it:"), reply(crown)


def test_a_follow_up_worded_request_of_its_own_is_that_request(mesh: Mesh) -> None:
    session = "follow-up-air-1"
    turn(mesh, session, "is flight UA 123 on time?", "C-1001")
    assert session_of(mesh, session).served_intent == "flight_status"
    rebook = turn(mesh, session, "and rebook me on UA 891", "C-1001")
    assert intent(rebook) == "rebook_flight"
    assert "searchFlights" in finished(rebook)
    # Nothing was booked: the offer waits for the customer's choice.
    assert "rebookReservation" not in finished(rebook)


def test_an_aside_is_no_request_to_follow_up(mesh: Mesh) -> None:
    session = "follow-up-aside-1"
    turn(mesh, session, "hi", OFFICE)
    assert session_of(mesh, session).served_intent == ""
    turn(mesh, session, "what's the status of claim CL-9001?", OFFICE)
    turn(mesh, session, "thanks!", OFFICE)
    # The thanks was an aside: the claim is still the request to follow up.
    assert session_of(mesh, session).served_intent == "claim_status"
    other = turn(mesh, session, "and CL-9002?", OFFICE)
    assert "Claim CL-9002" in reply(other), reply(other)


def test_another_day_checks_the_same_treatment_again(mesh: Mesh) -> None:
    # The treatment is kept for a follow-up that names none ("and for next monday?"), and goes
    # when one names another ("what about an extraction?" is the extraction, not the root canal).
    session = "follow-up-dental-2"

    def checked(text: str, code: str, treatment: str, day: str) -> None:
        before = len(calls(mesh, "claims", "checkEligibility"))
        said = reply(turn(mesh, session, text, OFFICE))
        (call,) = calls(mesh, "claims", "checkEligibility")[before:]
        assert code in str(call), call
        assert f"eligible for {treatment}" in said and f" {day} " in said, said

    turn(mesh, session, "is M-3001 covered for a root canal tomorrow?", OFFICE)
    checked("and for next monday?", "D3330", "root canal", "Mon")
    turn(mesh, session, "what about an extraction?", OFFICE)
    checked("and on friday?", "D7140", "extraction", "Fri")


def test_how_long_will_it_take_after_a_withdrawals_status_is_its_timing(mesh: Mesh) -> None:
    # Alone the question is no request clear enough to act on (out of scope, or a withdrawal's
    # status under the sportsbook pack's 0.60); after the status, "it" is the withdrawal just
    # shown, and the status flow answers how long withdrawals take.
    session = "follow-up-withdrawal-1"
    status = turn(mesh, session, "where is my withdrawal?", "C-1002")
    assert reply(status).startswith("Withdrawal W-5001 of 500.00 USD is pending"), reply(status)
    articles = len(calls(mesh, "knowledge", "searchArticles"))
    timing = turn(mesh, session, "how long will it take?", "C-1002")
    (read,) = [e.intent for e in timing if e.WhichOneof("event") == "intent"]
    assert read.out_of_scope or read.confidence < 0.60, read
    assert len(calls(mesh, "knowledge", "searchArticles")) == articles + 1
    assert "Withdrawal W-5001 of 500.00 USD is pending after" in reply(timing), reply(timing)
    assert not reply(timing).startswith("Withdrawal W-5001"), reply(timing)  # the article first


def test_why_after_a_withdrawals_status_shows_it_again(mesh: Mesh) -> None:
    # Alone "why is it pending?" is unclear (withdrawal_status under the pack's threshold) and
    # was asked to clarify; after the status, it is a question about what was shown.
    session = "follow-up-why-1"
    turn(mesh, session, "where is my withdrawal?", "C-1002")
    listed = len(calls(mesh, "payments", "listWithdrawals"))
    why = turn(mesh, session, "why is it pending?", "C-1002")
    assert len(calls(mesh, "payments", "listWithdrawals")) == listed + 1
    assert "on hold: source-of-funds documents requested" in reply(why), reply(why)
    assert not [e for e in why if e.WhichOneof("event") == "fallback"]


def test_why_after_a_rebooking_does_nothing_again(mesh: Mesh) -> None:
    # Other tests rely on SBX7Q2 staying on cancelled UA123: the trip is put back afterwards.
    world = world_of(mesh)
    (segment,) = world.reservations["SBX7Q2"].segments
    flights = [world.flight(number, segment.date) for number in ("UA123", "UA891")]
    assert None not in flights
    with trip_restored(mesh, "SBX7Q2", "C-1001", [f for f in flights if f is not None]):
        session = "follow-up-why-2"
        turn(mesh, session, "rebook me, reservation SBX7Q2", "C-1001")
        turn(mesh, session, "book UA891", "C-1001")
        done = turn(mesh, session, "yes", "C-1001")
        assert "rebookReservation" in finished(done)
        assert len(calls(mesh, "booking", "rebookReservation")) == 1
        after = turn(mesh, session, "why is that?", "C-1001")
        # Not the rebooking again, not even its look-ups (which would offer flights anew).
        assert not finished(after), list(finished(after))
        assert len(calls(mesh, "booking", "rebookReservation")) == 1
        assert not session_of(mesh, session).pending_plan.steps


def test_how_long_after_a_withdrawal_is_made_is_that_withdrawals_timing(
    mesh: Mesh, asked: AskedWithdrawal
) -> None:
    # "How long until I get it?" gives the withdrawal just made no detail; the classifier's
    # unsure reading of it, a withdrawal's status, is of the same industry and takes its timing.
    made = asked.say("yes")
    assert finished(made)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    articles = len(calls(mesh, "knowledge", "searchArticles"))
    timing = asked.say("how long until I get it?")
    assert len(calls(mesh, "knowledge", "searchArticles")) == articles + 1
    assert "Withdrawals are paid within" in reply(timing), reply(timing)
    assert "of 50.00 USD is pending" in reply(timing), reply(timing)
    assert not [e for e in timing if e.WhichOneof("event") == "fallback"]
