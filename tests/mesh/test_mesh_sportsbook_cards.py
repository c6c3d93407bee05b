"""The cards on file through the whole mesh: listed as they are, and never paid to once expired.

C-1006 (one active Mastercard), C-1001 (an active Visa and an expired Mastercard) and C-1004
(one expired Visa) are only read here. The customers these tests build are their own: a
verified wallet holder with the cards a test needs, removed again afterwards; the withdrawals
they are refused never reach the payments system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from test_mesh_scenarios import finished, intent, reply, turn
from wallet_customers import verified_customers, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2

EXPIRED_CARD_RULE = "sportsbook/withdrawal-to-an-active-card"


@pytest.fixture
def customer(mesh: Mesh) -> Iterator[Callable[..., str]]:
    with verified_customers(mesh) as build:
        yield build


def year(mesh: Mesh, ahead: int) -> int:
    assert mesh.mocks.world is not None
    today: date = mesh.mocks.world.today
    return today.year + ahead


def test_the_cards_on_file_are_listed_not_the_verification(mesh: Mesh) -> None:
    events = turn(mesh, "cards-on-file", "What cards do you have on file?", "C-1006")
    assert intent(events) == "payment_methods"
    assert set(finished(events)) == {"listPaymentMethods"}
    # The brand, the last four digits and the expiry: nothing more of the card or its holder.
    assert reply(events) == (
        f"You have one card on file: Mastercard ending 5100, active, expires 11/{year(mesh, 3)}."
    )


def test_several_cards_each_say_whether_they_are_active(mesh: Mesh) -> None:
    events = turn(mesh, "cards-several", "which cards are saved on my account?", "C-1001")
    assert intent(events) == "payment_methods"
    assert reply(events) == (
        f"You have 2 cards on file: Visa ending 4242, active, expires 11/{year(mesh, 3)}; "
        f"Mastercard ending 5454, expired 11/{year(mesh, -1)}."
    )


def test_a_customer_whose_cards_have_all_expired_is_asked_to_add_one(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    one = reply(turn(mesh, "cards-expired-one", "show me my payment methods", "C-1004"))
    assert one == (
        f"You have one card on file: Visa ending 0341, expired 11/{year(mesh, -1)}. It has "
        "expired, so it can't be used for payments or withdrawals: please add a new card in the "
        "app."
    )
    both = customer(("visa", "4406", True), ("amex", "3005", True))
    several = reply(turn(mesh, "cards-expired-all", "list my saved cards", both))
    assert several.endswith(
        "All of them have expired, so none can be used for payments or withdrawals: please add a "
        "new card in the app."
    ), several


def test_a_customer_with_no_card_is_told_so(mesh: Mesh, customer: Callable[..., str]) -> None:
    events = turn(mesh, "cards-none", "what card do I have on file", customer())
    assert reply(events) == "You have no card on file. You can add one in the app."


def test_which_card_a_withdrawal_goes_to_is_answered_without_withdrawing(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    before = withdrawals_made(mesh)
    only = turn(mesh, "cards-payout-one", "which card will my withdrawal go to?", "C-1006")
    assert intent(only) == "payment_methods"
    assert reply(only).endswith("A withdrawal goes to your Mastercard ending 5100."), reply(only)
    # An expired card is never where a withdrawal goes.
    mixed = customer(("visa", "4406", True), ("amex", "3005", False))
    text = reply(turn(mesh, "cards-payout-mixed", "which card will my withdrawal go to?", mixed))
    assert text.endswith(
        "A withdrawal can only go to an active card, so it would go to your Amex ending 3005."
    ), text
    two = customer(("visa", "4406", False), ("amex", "3005", False))
    text = reply(turn(mesh, "cards-payout-two", "which card will my withdrawal go to?", two))
    assert text.endswith(
        "A withdrawal can go to any of your active cards: I'll ask which one when you withdraw."
    ), text
    # No wallet, no withdrawal to go anywhere (C-1001 flies; it has no sportsbook wallet).
    text = reply(turn(mesh, "cards-payout-none", "which card will my withdrawal go to?", "C-1001"))
    assert text.endswith(
        "I don't see a sportsbook wallet on your account, so there is nothing to withdraw."
    ), text
    assert withdrawals_made(mesh) == before


def test_removing_a_card_is_not_pretended(mesh: Mesh) -> None:
    events = turn(mesh, "cards-remove", "remove my old card", "C-1006")
    assert intent(events) == "payment_methods"
    # Nothing changes a card: the payments contract has no such operation, and nothing ran but
    # the listing.
    assert set(finished(events)) == {"listPaymentMethods"}
    text = reply(events)
    assert text.endswith("I can't remove cards from here: you can do that in the app."), text
    assert "removed" not in text and "How much" not in text


def test_a_withdrawal_to_an_expired_card_is_refused_before_any_question(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    # The plan listed the cards before the withdrawal step: the rule sees the card's status
    # (session.card_status, from listPaymentMethods) and refuses, so the customer is not asked
    # to confirm a withdrawal the payments system would refuse, and it is never asked.
    expired = customer(("visa", "4406", True))
    before = withdrawals_made(mesh)
    refused = turn(mesh, "cards-withdraw-expired", "I want to withdraw 100 dollars", expired)
    step = finished(refused)["createWithdrawal"]
    assert step.outcome == common_pb2.STEP_OUTCOME_REJECTED
    blocked = [v.rule_id for v in step.verdicts if v.action == common_pb2.POLICY_ACTION_BLOCK]
    assert blocked == [EXPIRED_CARD_RULE], step.error
    text = reply(refused)
    assert text.startswith(
        "I haven't withdrawn anything from your wallet. Your Visa ending 4406 has expired. I "
        "can't send money to an expired card. Please add a new card in the app, then ask me "
        "again."
    ), text
    assert "Reply yes" not in text
    # Nothing waits for a "yes".
    turn(mesh, "cards-withdraw-expired", "yes", expired)
    assert withdrawals_made(mesh) == before
    assert mesh.mocks.world is not None
    assert mesh.mocks.world.wallets[expired].balance_cents == 12_000


def test_of_two_cards_the_expired_one_is_refused_and_the_active_one_asked_for(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    two = customer(("amex", "3005", False), ("visa", "4406", True))
    before = withdrawals_made(mesh)
    turn(mesh, "cards-withdraw-pick-expired", "withdraw $100 please", two)
    picked = turn(mesh, "cards-withdraw-pick-expired", "the visa one", two)
    step = finished(picked)["createWithdrawal"]
    assert EXPIRED_CARD_RULE in {v.rule_id for v in step.verdicts}
    assert reply(picked).startswith(
        "I haven't withdrawn anything from your wallet. Your Visa ending 4406 has expired."
    ), reply(picked)

    turn(mesh, "cards-withdraw-pick-active", "withdraw $100 please", two)
    held = finished(turn(mesh, "cards-withdraw-pick-active", "the amex one", two))
    step = held["createWithdrawal"]
    # Only held for the customer's word: the active card breaks no rule.
    assert step.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert {v.action for v in step.verdicts} == {common_pb2.POLICY_ACTION_CONFIRM}
    assert EXPIRED_CARD_RULE not in {v.rule_id for v in step.verdicts}
    turn(mesh, "cards-withdraw-pick-active", "no", two)
    assert withdrawals_made(mesh) == before
