"""A withdrawal to a card the customer names by its brand or its last four digits.

The card named is the card paid to; a card named that is not on file prepares nothing, and the
reply says which cards are. C-1006 (one active Mastercard ending 5100) is only asked for
withdrawals it declines here; the customers these tests build are their own, removed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from test_mesh_scenarios import finished, masked, pending_flow, reply, session_of, turn
from wallet_customers import verified_customers, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

ONE_MASTERCARD = "C-1006"
EXPIRED_CARD_RULE = "sportsbook/withdrawal-to-an-active-card"


@pytest.fixture
def customer(mesh: Mesh) -> Iterator[Callable[..., str]]:
    with verified_customers(mesh) as build:
        yield build


def held_to(events: list[events_pb2.TurnEvent]) -> str:
    """The card of the withdrawal held for the customer's "yes" ("" when none is held)."""
    held = [
        step
        for step in finished(events, by="step_id").values()
        if step.tool == "createWithdrawal"
        and step.outcome == common_pb2.STEP_OUTCOME_REJECTED
        and any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in step.verdicts)
        and not any(v.action == common_pb2.POLICY_ACTION_BLOCK for v in step.verdicts)
    ]
    return str(held[0].arguments["payment_method_id"]) if held else ""


def test_a_brand_not_on_file_prepares_nothing_and_names_the_card_there_is(mesh: Mesh) -> None:
    session = "card-named-visa"
    before = withdrawals_made(mesh)
    asked = turn(mesh, session, "put $80 back on my visa", ONE_MASTERCARD)
    assert held_to(asked) == ""
    assert reply(asked).startswith(
        "You don't have a Visa on file: your card is the Mastercard ending 5100. I haven't set "
        "anything up: if the 80.00 USD should go there, ask me to withdraw 80.00 USD to your "
        "Mastercard."
    ), reply(asked)
    assert not session_of(mesh, session).pending_plan.steps
    # Nothing waits for a "yes".
    turn(mesh, session, "yes", ONE_MASTERCARD)
    assert withdrawals_made(mesh) == before

    # Asked for as the reply says, the card is the one named in the question.
    named = turn(mesh, session, "withdraw 80.00 USD to my Mastercard", ONE_MASTERCARD)
    assert held_to(named) == "pm_1006_1"
    assert "I'm about to withdraw 80.00 USD from your wallet to your Mastercard ending 5100" in (
        reply(named)
    )
    turn(mesh, session, "no", ONE_MASTERCARD)
    assert withdrawals_made(mesh) == before


def test_a_brand_chooses_among_several_cards_without_asking(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    three = customer(("amex", "3005", False), ("visa", "4406", False), ("visa", "1881", True))
    session = "card-named-amex"
    before = withdrawals_made(mesh)
    asked = turn(mesh, session, "withdraw $100 to my american express", three)
    assert held_to(asked) == f"pm_{three[2:]}_1"
    assert "withdraw 100.00 USD from your wallet to your Amex ending 3005" in reply(asked)
    made = turn(mesh, session, "yes", three)
    assert "100.00 USD to your Amex ending 3005" in reply(made), reply(made)
    assert withdrawals_made(mesh) == before + 1
    assert mesh.mocks.world is not None
    assert mesh.mocks.world.wallets[three].balance_cents == 2_000


def test_a_brand_not_among_several_cards_lists_them_and_waits_for_the_choice(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    two = customer(("amex", "3005", False), ("visa", "4406", True))
    session = "card-named-none-of-two"
    before = withdrawals_made(mesh)
    asked = turn(mesh, session, "withdraw $50 to my mastercard", two)
    assert held_to(asked) == ""
    assert reply(asked).startswith(
        "You don't have a Mastercard on file: your cards are the Amex ending 3005 and the Visa "
        "ending 4406 (expired). Which one should the 50.00 USD go to?"
    ), reply(asked)
    assert pending_flow(mesh, session) == "withdrawal_request"
    picked = turn(mesh, session, "the amex one", two)
    assert held_to(picked) == f"pm_{two[2:]}_1"
    assert "withdraw 50.00 USD from your wallet to your Amex ending 3005" in reply(picked)
    turn(mesh, session, "no", two)
    assert withdrawals_made(mesh) == before


def test_a_named_card_that_has_expired_is_refused_before_any_question(
    mesh: Mesh, customer: Callable[..., str]
) -> None:
    two = customer(("amex", "3005", False), ("visa", "4406", True))
    before = withdrawals_made(mesh)
    refused = turn(mesh, "card-named-expired", "withdraw $50 to my visa", two)
    (step,) = [s for s in finished(refused, by="step_id").values() if s.tool == "createWithdrawal"]
    assert EXPIRED_CARD_RULE in {
        v.rule_id for v in step.verdicts if v.action == common_pb2.POLICY_ACTION_BLOCK
    }
    assert reply(refused).startswith(
        "I haven't withdrawn anything from your wallet. Your Visa ending 4406 has expired."
    ), reply(refused)
    assert withdrawals_made(mesh) == before


def test_the_last_four_digits_choose_the_card(mesh: Mesh, customer: Callable[..., str]) -> None:
    two = customer(("visa", "4406", False), ("visa", "1881", False))
    session = "card-named-last4"
    before = withdrawals_made(mesh)
    text = "withdraw $60 to the card ending 1881"
    # A card's last four digits are no address: they reach the planner as they were said.
    assert "1881" in masked(mesh, text)
    asked = turn(mesh, session, text, two)
    assert held_to(asked) == f"pm_{two[2:]}_2"
    assert "withdraw 60.00 USD from your wallet to your Visa ending 1881" in reply(asked)
    turn(mesh, session, "no", two)

    text = "withdraw $60 to the card ending with 4242 please"
    assert "4242" in masked(mesh, text)
    missing = turn(mesh, "card-named-last4-none", text, two)
    assert held_to(missing) == ""
    assert reply(missing).startswith(
        "You don't have a card ending 4242 on file: your cards are the Visa ending 4406 and the "
        "Visa ending 1881. Which one should the 60.00 USD go to?"
    ), reply(missing)
    assert withdrawals_made(mesh) == before


def test_last_digits_that_cannot_be_read_never_choose_another_card(mesh: Mesh) -> None:
    before = withdrawals_made(mesh)
    # A whole card number typed after "ending" is masked: the card named cannot be read.
    text = "withdraw $80 to the card ending 4111 1111 1111 1111"
    assert "ending <CARD_" in masked(mesh, text)
    events = turn(mesh, "card-named-masked", text, ONE_MASTERCARD)
    assert held_to(events) == ""
    text = reply(events)
    assert ": your card is the Mastercard ending 5100. I haven't set anything up" in text, text
    assert "<" not in text and "Reply yes" not in text
    assert withdrawals_made(mesh) == before
