"""A new withdrawal through the whole mesh: asked for, confirmed by the customer, made once.

C-1006 is the verified sportsbook customer with one active card; C-1002's identity still waits
for documents. The withdrawals these tests make come out of C-1006's wallet only, and no other
test reads that wallet; each test compares counts and balances with their own "before".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_mesh_scenarios import finished, intent, pending_flow, reply, turn
from wallet_customers import verified_customers, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

VERIFIED = "C-1006"
UNVERIFIED = "C-1002"
REFUSAL = "Before I can move money out of your wallet, I need to verify your identity."


def balance(mesh: Mesh, customer: str) -> int:
    assert mesh.mocks.world is not None
    cents: int = mesh.mocks.world.wallets[customer].balance_cents
    return cents


def held_for_confirmation(events: list[events_pb2.TurnEvent]) -> bool:
    held = finished(events).get("createWithdrawal")
    return held is not None and (
        held.outcome == common_pb2.STEP_OUTCOME_REJECTED
        and any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in held.verdicts)
    )


@pytest.fixture
def two_cards(mesh: Mesh) -> Iterator[str]:
    """A verified customer of this test alone with 120.00 USD in the wallet, an active Amex and
    an expired Visa on file."""
    with verified_customers(mesh) as build:
        yield build(("amex", "3005", False), ("visa", "4406", True))


def test_a_verified_customer_confirms_and_the_withdrawal_is_made_once(mesh: Mesh) -> None:
    session = "withdraw-yes"
    before, money = withdrawals_made(mesh), balance(mesh, VERIFIED)

    asked = turn(mesh, session, "I want to withdraw 200 dollars", VERIFIED)
    assert intent(asked) == "withdrawal_request"
    assert held_for_confirmation(asked)
    # The question says what the "yes" is for: the amount and the card.
    assert (
        "I'm about to withdraw 200.00 USD from your wallet to your Mastercard ending 5100. "
        "Reply yes to go ahead"
    ) in reply(asked), reply(asked)
    assert withdrawals_made(mesh) == before and balance(mesh, VERIFIED) == money

    made = turn(mesh, session, "yes", VERIFIED)
    assert finished(made)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert withdrawals_made(mesh) == before + 1
    assert balance(mesh, VERIFIED) == money - 20_000
    text = reply(made)
    assert text.startswith("I've requested withdrawal W-")
    assert "200.00 USD to your Mastercard ending 5100" in text and "pending" in text
    # The reply is about a withdrawal, not about "yes": it carries the reminder wallet replies do.
    assert "If betting stops being fun" in text, text

    # Nothing waits any more: a second "yes" makes no second withdrawal.
    again = turn(mesh, session, "yes", VERIFIED)
    assert "createWithdrawal" not in finished(again)
    assert withdrawals_made(mesh) == before + 1


def test_a_large_withdrawal_is_confirmed_in_the_packs_own_words(mesh: Mesh) -> None:
    session = "withdraw-large"
    before = withdrawals_made(mesh)
    asked = turn(mesh, session, "I want to withdraw 600 dollars", VERIFIED)
    assert held_for_confirmation(asked)
    text = reply(asked)
    # sportsbook/large-withdrawal-needs-confirmation, not the base rule every contract's "yes"
    # goes through.
    assert text.startswith("That's a large withdrawal. Please confirm the amount"), text
    assert "withdraw 600.00 USD from your wallet" in text
    turn(mesh, session, "no", VERIFIED)
    assert withdrawals_made(mesh) == before


def test_the_amount_is_asked_for_when_missing(mesh: Mesh) -> None:
    session = "withdraw-how-much"
    before = withdrawals_made(mesh)
    asked = turn(mesh, session, "send my winnings to my card", VERIFIED)
    assert reply(asked).startswith("How much would you like to withdraw?")
    assert not finished(asked)
    assert pending_flow(mesh, session) == "withdrawal_request"

    answered = turn(mesh, session, "150", VERIFIED)
    assert held_for_confirmation(answered)
    (plan,) = [e.plan.plan for e in answered if e.WhichOneof("event") == "plan"]
    assert plan.slots["amount_cents"] == "15000"
    turn(mesh, session, "no", VERIFIED)
    assert withdrawals_made(mesh) == before


@pytest.mark.parametrize("changed", ["actually make it 75", "sorry, I meant $75", "no, 75 dollars"])
def test_a_new_amount_for_a_held_withdrawal_is_asked_about_again(mesh: Mesh, changed: str) -> None:
    """While 50.00 USD waits for a yes, the customer changes the amount: nothing is withdrawn
    until they confirm the new one, and then only that one."""
    session = f"withdraw-amended-{changed.split()[0].strip(',')}"
    before, money = withdrawals_made(mesh), balance(mesh, VERIFIED)
    assert held_for_confirmation(turn(mesh, session, "withdraw 50 to my card", VERIFIED))
    amended = turn(mesh, session, changed, VERIFIED)
    assert held_for_confirmation(amended), reply(amended)
    assert "I'm about to withdraw 75.00 USD from your wallet" in reply(amended), reply(amended)
    assert withdrawals_made(mesh) == before
    made = turn(mesh, session, "yes", VERIFIED)
    assert "75.00 USD to your Mastercard ending 5100" in reply(made), reply(made)
    assert withdrawals_made(mesh) == before + 1
    assert balance(mesh, VERIFIED) == money - 7_500


def _still_waits_after(mesh: Mesh, session: str, message: str) -> list[events_pb2.TurnEvent]:
    """Holds a withdrawal of 50.00 USD for a yes, sends ``message``: the reply says what still
    waits, nothing is withdrawn, and the next "yes" makes it, once. The message's turn."""
    before = withdrawals_made(mesh)
    assert held_for_confirmation(turn(mesh, session, "withdraw 50 to my card", VERIFIED))
    answered = turn(mesh, session, message, VERIFIED)
    assert reply(answered).startswith(
        "Not yet: I'm waiting for your confirmation before I withdraw 50.00 USD"
    ), reply(answered)
    assert withdrawals_made(mesh) == before
    made = turn(mesh, session, "yes", VERIFIED)
    assert "50.00 USD to your Mastercard ending 5100" in reply(made), reply(made)
    assert withdrawals_made(mesh) == before + 1
    return answered


@pytest.mark.parametrize("message", ["hmm", "one moment"])
def test_a_held_withdrawal_still_waits_after_a_message_asked_about_again(
    mesh: Mesh, message: str
) -> None:
    """A message that reads as nothing is clarified, with the two answers the change waits for as
    the options (not other requests); the withdrawal the confirmation described still waits."""
    paused = _still_waits_after(mesh, f"withdraw-unclear-{message.replace(' ', '-')}", message)
    fallbacks = [e.fallback for e in paused if e.WhichOneof("event") == "fallback"]
    assert [f.action for f in fallbacks] == [events_pb2.FALLBACK_ACTION_CLARIFY], reply(paused)


@pytest.mark.parametrize(
    "question",
    [
        "is it safe?",
        "are you sure?",
        "is that ok?",
        "should I?",
        "yes?",
        "wait",
        "no, not yet",
        "hold on a sec",
    ],
)
def test_a_question_about_a_held_withdrawal_is_no_answer_to_it(mesh: Mesh, question: str) -> None:
    """A question is neither a yes nor a no, whatever the classifier hears in it ("is it safe?"
    and "should I?" read as a no, "are you sure?" and "is that ok?" as a clear yes, which made
    the withdrawal), nor is a no that hedges ("wait", "no, not yet", which dropped it)."""
    session = f"withdraw-question-{question.replace(' ', '-').strip('?').replace(',', '')}"
    _still_waits_after(mesh, session, question)


def test_no_makes_no_withdrawal(mesh: Mesh) -> None:
    session = "withdraw-no"
    before, money = withdrawals_made(mesh), balance(mesh, VERIFIED)
    assert held_for_confirmation(turn(mesh, session, "cash out 60 to my card", VERIFIED))
    declined = turn(mesh, session, "no", VERIFIED)
    assert "createWithdrawal" not in finished(declined)
    # The plan was dropped: a "yes" now has nothing to run.
    turn(mesh, session, "yes", VERIFIED)
    assert withdrawals_made(mesh) == before and balance(mesh, VERIFIED) == money


def test_an_unverified_customer_is_told_why_nothing_was_withdrawn(mesh: Mesh) -> None:
    session = "withdraw-unverified"
    before, money = withdrawals_made(mesh), balance(mesh, UNVERIFIED)
    refused = turn(mesh, session, "I want to withdraw 200 dollars", UNVERIFIED)
    step = finished(refused)["createWithdrawal"]
    assert step.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert any(v.action == common_pb2.POLICY_ACTION_BLOCK for v in step.verdicts)
    text = reply(refused)
    assert text.startswith(f"I haven't withdrawn anything from your wallet. {REFUSAL}")
    assert "waiting for your identity documents" in text
    assert "Reply yes" not in text
    assert withdrawals_made(mesh) == before and balance(mesh, UNVERIFIED) == money
    # Nothing was left waiting for a "yes".
    turn(mesh, session, "yes", UNVERIFIED)
    assert withdrawals_made(mesh) == before


def test_an_amount_above_the_balance_is_explained_before_any_card_is_chosen(
    mesh: Mesh, two_cards: str
) -> None:
    before = withdrawals_made(mesh)
    events = turn(mesh, "withdraw-over-two-cards", "withdraw $5000 please", two_cards)
    assert finished(events)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert reply(events).startswith(
        "Your wallet holds 120.00 USD, which doesn't cover 5,000.00 USD, so I haven't set "
        "anything up. You can withdraw up to 120.00 USD."
    )
    assert withdrawals_made(mesh) == before and balance(mesh, two_cards) == 12_000


def test_with_several_cards_the_customer_picks_one(mesh: Mesh, two_cards: str) -> None:
    session = "withdraw-two-cards"
    before = withdrawals_made(mesh)
    listed = turn(mesh, session, "withdraw $100 please", two_cards)
    assert reply(listed).startswith(
        "You have 2 cards on file: Amex ending 3005; Visa ending 4406 (expired). Which one "
        "should the 100.00 USD go to?"
    )
    picked = turn(mesh, session, "the amex one", two_cards)
    assert held_for_confirmation(picked)
    made = turn(mesh, session, "yes", two_cards)
    assert "100.00 USD to your Amex ending 3005" in reply(made)
    assert withdrawals_made(mesh) == before + 1 and balance(mesh, two_cards) == 2_000


def test_an_amount_above_the_balance_is_refused_before_any_question(mesh: Mesh) -> None:
    # The plan read the wallet before the withdrawal step: sportsbook/withdrawal-within-balance
    # sees its balance (session.wallet_balance) and refuses, so the customer is not asked to
    # confirm a withdrawal that cannot happen, and the payments system is never asked.
    session = "withdraw-over"
    before, money = withdrawals_made(mesh), balance(mesh, VERIFIED)
    refused = turn(mesh, session, "withdraw $50,000", VERIFIED)
    step = finished(refused)["createWithdrawal"]
    assert step.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert [v.rule_id for v in step.verdicts if v.action == common_pb2.POLICY_ACTION_BLOCK] == [
        "sportsbook/withdrawal-within-balance"
    ]
    shown = f"{money // 100:,}.{money % 100:02d} USD"
    assert reply(refused).startswith(
        "I haven't withdrawn anything from your wallet. That's more than your wallet holds, so I "
        f"can't withdraw it. It holds {shown}: you can withdraw up to that."
    ), reply(refused)
    assert "Reply yes" not in reply(refused)
    assert balance(mesh, VERIFIED) == money and withdrawals_made(mesh) == before


@pytest.mark.parametrize("question", ["where is my withdrawal?", "my withdrawal hasn't arrived"])
def test_a_status_question_is_still_a_status_question(mesh: Mesh, question: str) -> None:
    before = withdrawals_made(mesh)
    events = turn(mesh, "withdraw-status-" + question.split()[-1].strip("?"), question, VERIFIED)
    assert intent(events) == "withdrawal_status"
    assert set(finished(events)) == {"listWithdrawals"}
    assert "W-" in reply(events)
    assert withdrawals_made(mesh) == before


def test_a_held_withdrawal_says_what_it_waits_for(mesh: Mesh) -> None:
    # C-1002's withdrawal is held for documents. "Why is it on hold?" after its status is that
    # withdrawal again, and "what do you need from me?" names the documents the hold waits for
    # (the verification record names none).
    session = "withdrawal-hold-1"
    turn(mesh, session, "where is my withdrawal?", UNVERIFIED)
    why = turn(mesh, session, "why is it on hold?", UNVERIFIED)
    assert intent(why) == "withdrawal_status", intent(why)
    assert "source-of-funds documents requested" in reply(why), reply(why)
    needed = turn(mesh, session, "ok what do you need from me?", UNVERIFIED)
    assert intent(needed) == "account_verification", intent(needed)
    text = reply(needed)
    assert text.startswith("Your identity verification is pending documents."), text
    assert "Withdrawal W-5001 of 500.00 USD is pending (on hold: source-of-funds" in text, text


def test_another_wallets_withdrawal_is_not_found(mesh: Mesh) -> None:
    """W-5001 is C-1002's: named by C-1006, it is as unknown as an id that does not exist, and
    nothing of it reaches the reply."""
    named = "where is withdrawal W-5001?"
    mine = turn(mesh, "withdrawal-own", named, UNVERIFIED)
    assert "Withdrawal W-5001 of 500.00 USD is pending" in reply(mine), reply(mine)
    theirs = turn(mesh, "withdrawal-theirs", named, VERIFIED)
    assert finished(theirs)["getWithdrawal"].http_status == 404
    text = reply(theirs)
    assert text.startswith("I can't find withdrawal W-5001 among your wallet's withdrawals"), text
    assert "500.00" not in text and "source-of-funds" not in text, text


@pytest.mark.parametrize(
    "question", ["how long do withdrawals take?", "when will my withdrawal arrive?"]
)
def test_how_long_withdrawals_take_comes_from_the_knowledge_base(mesh: Mesh, question: str) -> None:
    """The answer the article gives, then the customer's withdrawals still on their way."""
    article = "Withdrawals are paid within 1 to 3 business days once the account is verified"
    asked = question.split()[1]
    held = turn(mesh, f"withdrawal-times-held-{asked}", question, UNVERIFIED)
    assert {"searchArticles", "listWithdrawals"} <= set(finished(held)), reply(held)
    assert reply(held).startswith(article), reply(held)
    assert "Withdrawal W-5001 of 500.00 USD is pending after 5 days" in reply(held), reply(held)
    # Nothing on its way: the answer alone.
    with verified_customers(mesh) as build:
        paid = turn(
            mesh, f"withdrawal-times-none-{asked}", question, build(("visa", "4242", False))
        )
    assert reply(paid).startswith(article) and "W-" not in reply(paid), reply(paid)
