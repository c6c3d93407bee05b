"""Refunds through the whole mesh: a fare charged twice, and the fare of a flight the airline
cancelled. The refund waits for the customer's "yes"; the refund rule sees the charges the plan
listed, so it lets a refund of what is refundable through.

The mocks are shared by the test session: only C-1003's duplicate charge (mocks/world/demo.py) is
ever refunded, and C-1005's cancelled flight is offered and declined, so C-1001's storm scenario
and every other test find the data as they expect it.
"""

from __future__ import annotations

from test_mesh_scenarios import calls, finished, intent, pending_flow, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2

REFUNDS = ("payments", "createRefund")
CONFIRM_RULE = "base/contract-requires-confirmation"


def held_for_confirmation(result: common_pb2.StepResult) -> bool:
    """Held by the contract's confirm only: no rule blocked it."""
    return result.outcome == common_pb2.STEP_OUTCOME_REJECTED and {
        (v.rule_id, v.action) for v in result.verdicts
    } == {(CONFIRM_RULE, common_pb2.POLICY_ACTION_CONFIRM)}


def test_a_fare_charged_twice_is_refunded_once_when_the_customer_says_yes(mesh: Mesh) -> None:
    world = mesh.mocks.world
    charged = sorted(
        (c for c in world.charges.values() if c.reference == "LQ3X8N"), key=lambda c: c.created_at
    )
    assert [(c.amount_cents, c.refunded_cents) for c in charged] == [(27_400, 0), (27_400, 0)]
    before = len(calls(mesh, *REFUNDS))

    asked = turn(mesh, "refund-twice", "I was charged twice for my ticket", "C-1003")
    assert intent(asked) == "refund_request"
    duplicate = finished(asked, by="step_id")["duplicate"]
    assert held_for_confirmation(duplicate), duplicate
    # The held step carries what it was checked with: the later charge, in full. The question
    # below names exactly that.
    assert duplicate.arguments["charge_id"] == charged[1].charge_id
    assert duplicate.arguments["amount_cents"] == 27_400
    assert not finished(asked, by="step_id")["cancellation"].arguments
    assert len(calls(mesh, *REFUNDS)) == before
    assert reply(asked) == (
        "Before I go ahead, please confirm that you want me to do this. I'm about to refund "
        "274.00 USD to your Amex card ending 0005: the second of the two identical charges for "
        "reservation LQ3X8N. Reply yes to go ahead, or no to cancel."
    )

    done = turn(mesh, "refund-twice", "yes", "C-1003")
    made = calls(mesh, *REFUNDS)[before:]
    assert len(made) == 1, made
    # The later charge, in full, as a duplicate; the first one is untouched.
    assert made[0].path == f"/charges/{charged[1].charge_id}/refunds"
    assert made[0].body == {"amount_cents": 27_400, "reason": "duplicate"}
    assert [c.refunded_cents for c in charged] == [0, 27_400]
    assert reply(done) == (
        "Done: I've refunded 274.00 USD to your Amex card ending 0005, the second of the two "
        "identical charges for reservation LQ3X8N."
    )

    # Nothing is left waiting, and asking again finds no double charge to refund.
    turn(mesh, "refund-twice", "yes", "C-1003")
    again = turn(mesh, "refund-twice-again", "I was charged twice for my ticket", "C-1003")
    assert finished(again, by="step_id")["duplicate"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert not finished(again, by="step_id")["duplicate"].verdicts
    assert "I don't see a double charge still to refund" in reply(again), reply(again)
    assert "colleague" in reply(again)
    assert len(calls(mesh, *REFUNDS)) == before + 1


def test_the_fare_of_a_cancelled_flight_is_offered_and_nothing_is_refunded_on_no(
    mesh: Mesh,
) -> None:
    before = len(calls(mesh, *REFUNDS))
    asked = turn(
        mesh, "refund-cancelled", "My flight was cancelled, I want my money back", "C-1005"
    )
    assert intent(asked) == "refund_request"
    results = finished(asked, by="step_id")
    assert results["cancelled"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert held_for_confirmation(results["cancellation"]), results["cancellation"]
    assert "I'm about to refund 456.00 USD to your Visa card ending 7719: what is left of the " in (
        reply(asked)
    ), reply(asked)
    assert "reservation K4M9TZ, whose flight DL2207 was cancelled." in reply(asked), reply(asked)

    declined = turn(mesh, "refund-cancelled", "no", "C-1005")
    assert "createRefund" not in {r.tool for r in finished(declined, by="step_id").values()}
    assert "<PERSON_" not in reply(asked) + reply(declined)
    assert len(calls(mesh, *REFUNDS)) == before


def test_no_thanks_with_nothing_asked_is_the_request_that_follows_it(mesh: Mesh) -> None:
    # The cancelled flight's news offers a rebooking or a refund and asks nothing: "no thanks,
    # just refund me" is the refund (alone it reads as a "no" at 0.79, the refund at 0.20).
    before = len(calls(mesh, *REFUNDS))
    session = "refund-no-thanks"
    news = turn(mesh, session, "my flight got cancelled", "C-1005")
    assert intent(news) == "flight_status" and not pending_flow(mesh, session)
    asked = turn(mesh, session, "no thanks, just refund me", "C-1005")
    assert intent(asked) == "refund_request", intent(asked)
    assert held_for_confirmation(finished(asked, by="step_id")["cancellation"])
    assert "I'm about to refund 456.00 USD" in reply(asked), reply(asked)
    # A "no" to the refund now waiting is a no.
    declined = turn(mesh, session, "no", "C-1005")
    assert intent(declined) == "decline"
    assert len(calls(mesh, *REFUNDS)) == before


def test_a_fare_neither_charged_twice_nor_cancelled_is_left_to_the_fare_rules(mesh: Mesh) -> None:
    before = len(calls(mesh, *REFUNDS))
    events = turn(mesh, "refund-neither", "I want a refund for reservation ZGGJQS", "C-5607")
    assert intent(events) == "refund_request"
    results = finished(events, by="step_id")
    assert results["charges"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert not results["duplicate"].verdicts and not results["cancellation"].verdicts
    text = reply(events)
    assert text.startswith("For reservation ZGGJQS I can see "), text
    assert "a refund depends on your fare's rules" in text and "colleague" in text, text
    assert not pending_flow(mesh, "refund-neither")
    assert len(calls(mesh, *REFUNDS)) == before


def test_money_back_is_a_refund_while_compensation_and_baggage_go_where_they_went(
    mesh: Mesh,
) -> None:
    # Read only: each is asked without a customer, so nothing is looked up or filed.
    double = turn(mesh, "refund-which-1", "there's a double charge on my card for my flight", "")
    assert intent(double) == "refund_request"
    delayed = turn(mesh, "refund-which-2", "I want compensation for my delayed flight", "")
    assert intent(delayed) == "compensation_claim"
    bags = turn(mesh, "refund-which-3", "how many bags can I check?", "")
    assert intent(bags) == "baggage_policy"


def test_asking_to_fly_the_day_after_sets_a_waiting_refund_aside(mesh: Mesh) -> None:
    # "what about flying the day after?" read as a flight's status (0.49) beside a rebooking
    # (0.46), was clarified, and the refund's question was asked again.
    before = len(calls(mesh, *REFUNDS))
    session = "refund-then-day-after"
    asked = turn(mesh, session, "My flight was cancelled, I want my money back", "C-1005")
    assert held_for_confirmation(finished(asked, by="step_id")["cancellation"])
    instead = turn(mesh, session, "hmm, what about flying the day after?", "C-1005")
    assert intent(instead) == "rebook_flight", intent(instead)
    assert "Flights from BOS to DEN with seats on " in reply(instead), reply(instead)
    assert "refund" not in reply(instead)
    # The rebooking now waits for its own yes: "yes" asks to confirm the move, and "no"
    # leaves both the fare and the trip as they were.
    moving = turn(mesh, session, "yes", "C-1005")
    assert "I'm about to move reservation K4M9TZ from flight DL2207 onto flight " in (
        reply(moving)
    ), reply(moving)
    declined = turn(mesh, session, "no", "C-1005")
    assert intent(declined) == "decline"
    assert not pending_flow(mesh, session)
    assert len(calls(mesh, *REFUNDS)) == before
