"""A question of another request asked while something waits for the customer's answer.

"What's my deductible?" while a crown's date is asked for, "how many bags can I check?" while a
flight is to be chosen, "what's my balance?" while a withdrawal waits for a yes: the question is
answered, the reply asks again for what waited, and the next message may still answer it. Before,
the question moved the conversation on: "next Tuesday" then read as a goodbye and the crown's
check was lost.

C-1005's rebooking is declined and the withdrawal is a customer of the test's own, so every
other test finds the data as it expects it.
"""

from __future__ import annotations

from crm_cases import cases_left_as_found
from test_mesh_scenarios import finished, intent, pending_flow, reply, session_of, turn
from wallet_customers import AskedWithdrawal, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2

MEMBER = "M-3001"
STILL_WAITS = "One thing still waits for your word: I'm about to withdraw 50.00 USD"


def test_a_benefits_question_leaves_the_crowns_date_asked_for(mesh: Mesh) -> None:
    session = "between-crown-date"
    turn(mesh, session, "is a crown covered for me?", MEMBER)
    asked = turn(mesh, session, "the first one", MEMBER)
    assert reply(asked) == "What date is planned for the crown?", reply(asked)

    between = turn(mesh, session, "what's my deductible?", MEMBER)
    assert intent(between) == "benefits_summary"
    assert "Deductible 50.00 USD" in reply(between), reply(between)
    # The question again, after the answer, and nothing of the check ran without its date.
    assert "\n\nWhat date is planned for the crown?" in reply(between), reply(between)
    assert "checkEligibility" not in {r.tool for r in finished(between, by="step_id").values()}
    assert pending_flow(mesh, session) == "eligibility_check"

    dated = turn(mesh, session, "next tuesday", MEMBER)
    eligibility = finished(dated, by="step_id")["eligibility"]
    assert eligibility.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert eligibility.arguments["procedure_code"] == "D2740"
    assert "You are eligible for crown, porcelain/ceramic on Tue " in reply(dated), reply(dated)


def test_a_baggage_question_leaves_the_flight_to_choose_offered(mesh: Mesh) -> None:
    session = "between-flight-choice"
    offered = turn(mesh, session, "my flight was cancelled, please rebook me", "C-1005")
    assert 'Which one should I book? Say, for example, "book DL2209".' in reply(offered), reply(
        offered
    )
    between = turn(mesh, session, "how many bags can I check?", "C-1005")
    assert intent(between) == "baggage_policy"
    assert reply(between).startswith("Checked baggage allowance: "), reply(between)
    # The list again, in the flight slot's own words, with no "I can't tell which flight".
    assert reply(between).endswith(
        '\n\nShould I book DL2209 at 07:40 local time (12:40 UTC)? Say "book DL2209" if so.'
    ), reply(between)
    assert pending_flow(mesh, session) == "rebook_flight"

    chosen = turn(mesh, session, "the first one", "C-1005")
    assert "I'm about to move reservation K4M9TZ from flight DL2207 onto flight DL2209" in (
        reply(chosen)
    ), reply(chosen)
    turn(mesh, session, "no", "C-1005")
    assert not session_of(mesh, session).pending_plan.steps


def test_a_balance_question_leaves_the_withdrawal_waiting_for_its_yes(
    asked: AskedWithdrawal,
) -> None:
    between = asked.say("what's my balance?")
    assert intent(between) == "wallet_balance"
    assert "Your sportsbook wallet holds 120.00 USD." in reply(between), reply(between)
    assert STILL_WAITS in reply(between), reply(between)
    # Said once: the reply and the question pass the output checks as one.
    assert reply(between).count("If betting stops being fun") == 1, reply(between)
    assert session_of(asked.mesh, asked.session).pending_plan.steps

    done = asked.say("yes")
    assert finished(done)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert withdrawals_made(asked.mesh) == asked.made_before + 1


def test_a_request_that_changes_something_moves_on_from_the_withdrawal(
    asked: AskedWithdrawal,
) -> None:
    # A status asked about keeps the withdrawal waiting; a bet's case opened for the customer
    # changes something of its own, and the withdrawal is no longer what a yes answers.
    status = asked.say("what's the status of my last withdrawal?")
    assert STILL_WAITS in reply(status), reply(status)
    with cases_left_as_found(asked.mesh):
        moved = asked.say("my parlay was settled wrong, I only got half the payout")
        assert intent(moved) == "bet_settlement"
        assert "I've opened case CS-" in reply(moved), reply(moved)
    assert STILL_WAITS not in reply(moved), reply(moved)
    assert not session_of(asked.mesh, asked.session).pending_plan.steps
    asked.say("yes")
    assert withdrawals_made(asked.mesh) == asked.made_before


def test_an_invitation_to_tell_more_is_not_asked_again(mesh: Mesh) -> None:
    # The bet's case is opened and only invites more ("remind: false"): a balance asked about
    # next is answered alone.
    session = "between-bet-case"
    with cases_left_as_found(mesh):
        opened = turn(mesh, session, "why was my bet voided", "C-1006")
        assert "If you tell me more about the bet" in reply(opened), reply(opened)
        between = turn(mesh, session, "what's my balance?", "C-1006")
    assert reply(between).startswith("Your sportsbook wallet holds "), reply(between)
    assert "the bet" not in reply(between), reply(between)
    assert pending_flow(mesh, session) == ""


def test_never_mind_leaves_what_waited_behind(mesh: Mesh, asked: AskedWithdrawal) -> None:
    dropped = asked.say("never mind, what's my balance?")
    assert intent(dropped) == "wallet_balance", intent(dropped)
    assert STILL_WAITS not in reply(dropped), reply(dropped)
    assert not session_of(asked.mesh, asked.session).pending_plan.steps

    session = "between-crown-never-mind"
    turn(mesh, session, "is a crown covered for me?", MEMBER)
    turn(mesh, session, "the first one", MEMBER)
    instead = turn(mesh, session, "what's my deductible instead?", MEMBER)
    assert "Deductible 50.00 USD" in reply(instead), reply(instead)
    assert "What date" not in reply(instead), reply(instead)
    assert pending_flow(mesh, session) == ""
