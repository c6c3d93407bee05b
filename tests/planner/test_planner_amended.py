"""A new value for a request that waits for the customer's yes: "actually, make it 75"."""

from __future__ import annotations

import pytest

from services.planner.flows import FlowBook

#: the session's slots while a withdrawal of 50.00 USD to the only card waits for a yes
HELD = {"customer_id": "C-1006", "amount_cents": "5000"}


@pytest.mark.parametrize(
    ("said", "changed", "value"),
    [
        ("actually make it 75", "amount_cents", "7500"),
        ("make it 75", "amount_cents", "7500"),
        ("no, 75 dollars", "amount_cents", "7500"),
        ("sorry, I meant $75", "amount_cents", "7500"),
        ("actually, 75", "amount_cents", "7500"),
        ("change that to 100 please", "amount_cents", "10000"),
        ("actually send it to my visa", "card_brand", "visa"),
    ],
)
def test_a_new_value_amends_the_held_request(
    book: FlowBook, said: str, changed: str, value: str
) -> None:
    flow = book.get("withdrawal_request")
    assert flow is not None
    asked = flow.amended(HELD, said, "C-1006")
    assert asked == [changed]
    assert flow.answers(HELD, said, "C-1006")
    filled = flow.fill(HELD, said, "C-1006", asked, answered=True)
    assert filled[changed] == value
    assert [s.tool for s in flow.steps(filled, "C-1006")][-1] == "createWithdrawal"


@pytest.mark.parametrize(
    "said",
    [
        "yes",
        "yes, 50 dollars is fine",  # the value it has already
        "I want to withdraw 300 dollars",  # a request of its own, not a change of this one
        "make it 75 and what's my balance?",  # something else besides
        "what's my balance?",
        "no",
    ],
)
def test_anything_else_amends_nothing(book: FlowBook, said: str) -> None:
    flow = book.get("withdrawal_request")
    assert flow is not None
    assert flow.amended(HELD, said, "C-1006") == []


def test_a_flow_waiting_for_an_answer_reads_the_message_as_the_answer(book: FlowBook) -> None:
    """While the lost property case waits for what the thing looks like, "it's fine, thanks"
    changes nothing of what was left, however loosely the item's answer is read."""
    flow = book.get("lost_item")
    assert flow is not None
    known = {**flow.fill({}, "I left my headphones on the plane", "C-1001"), "case_id": "CS-1"}
    assert flow.awaited(known) == ["details"]
    assert flow.amended(known, "it's fine, thanks", "C-1001") == []
