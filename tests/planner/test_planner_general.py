"""The general conversation pack: a thank-you that closes the conversation is not asked more."""

from __future__ import annotations

import pytest

from services.planner.flows import FlowBook


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("thanks!", "You're welcome! Is there anything else I can help with?"),
        (
            "thank you so much for your help",
            "You're welcome! Is there anything else I can help with?",
        ),
        ("thanks, that's all", "You're welcome! Have a good day."),
        ("thank you, that’s everything", "You're welcome! Have a good day."),
        ("great, thanks. nothing else", "You're welcome! Have a good day."),
        ("thanks, I'm good", "You're welcome! Have a good day."),
    ],
)
def test_a_thank_you_that_ends_the_conversation_asks_nothing_more(
    book: FlowBook, said: str, reply: str
) -> None:
    flow = book.get("thanks")
    assert flow is not None
    slots = flow.fill({}, said, "C-1001")
    assert flow.steps(slots, "C-1001") == []
    assert flow.reply(flow.context(slots, [])) == reply
