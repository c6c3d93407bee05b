"""What a lost item or a bag looks like, added to the case the conversation just opened: the reply
that opens the case asks for it and keeps the case, and the next message that describes it is
noted on that case, never a second case opened."""

from __future__ import annotations

import asyncio

import pytest

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.planner import PlanInput, Planner
from services.planner.plans import Plan, StepResult
from services.planner.tools import ToolIndex

# flow -> (the report that opens a case, the kind of case the replies name)
REPORTS = {
    "lost_item": ("I left my headphones on the plane", "lost property"),
    "baggage_issue": ("my suitcase didn't arrive", "baggage"),
}


def _opened(flow_name: str, book: FlowBook) -> dict[str, str]:
    """The session's slots after the reply that opened case CS-100042 for the report."""
    flow = book.get(flow_name)
    assert flow is not None
    report, kind = REPORTS[flow_name]
    asked = flow.fill({}, report, "C-1001")
    steps = [s.tool for s in flow.steps(asked, "C-1001")]
    assert "createCase" in steps and "addInteractionNote" not in steps
    results = [StepResult("case", "createCase", "succeeded", {"case_id": "CS-100042"})]
    context = flow.context(asked, results)
    assert flow.reply(context).startswith(f"I've opened {kind} case CS-100042")
    assert "I'll add" in flow.reply(context)
    waits, keep = flow.waiting(context, asked, results)
    assert waits == ["details"]
    assert keep == {"details": "", "case_id": "CS-100042"}
    return {**asked, **keep}


@pytest.mark.parametrize("flow_name", sorted(REPORTS))
def test_the_description_after_the_case_is_noted_on_that_case(
    book: FlowBook, flow_name: str
) -> None:
    flow = book.get(flow_name)
    assert flow is not None
    known = _opened(flow_name, book)
    assert flow.awaited(known) == ["details"]
    for described in ("black leather, with a coach logo", "a red tumi backpack"):
        assert flow.answers(known, described, "C-1001"), described
    said = "they're black sony ones with a red sticker"
    assert flow.answers(known, said, "C-1001")
    answered = flow.fill(known, said, "C-1001", ["details"], answered=True)
    (step,) = flow.steps(answered, "C-1001")
    # The case kept, no second case and no reservation looked for again.
    assert step.tool == "addInteractionNote"
    assert step.arguments["case_id"] == "CS-100042"
    assert step.arguments["text"] == f"What the customer says it looks like: {said}"
    noted = [StepResult(step.id, step.tool, "succeeded", {"note_id": "N-1"})]
    text = flow.reply(flow.context(answered, noted))
    assert text.startswith(f"Thank you, I've added that to {REPORTS[flow_name][1]} case CS-100042")
    assert f'"{said}"' in text
    # Nothing waits any more.
    assert flow.waiting(flow.context(answered, noted), answered, noted) == ([], {})
    failed = [StepResult(step.id, step.tool, "failed", {})]
    assert flow.reply(flow.context(answered, failed)).startswith(
        "I couldn't add that to case CS-100042 just now."
    )


@pytest.mark.parametrize("flow_name", sorted(REPORTS))
@pytest.mark.parametrize(
    "said",
    [
        "great, thanks!",
        "ok thank you",
        "perfect",
        "it's fine, thanks",
        "no, that's all",
        "not sure",
        # another request, or a question about the case, is not what it looks like
        "any news on my wallet?",
        "have they found them yet?",
        "I also need to rebook my flight",
        # no personal data reaches a case
        "it has my name <PERSON_1> on the tag",
    ],
)
def test_thanks_a_question_or_nothing_to_add_is_no_description(
    book: FlowBook, flow_name: str, said: str
) -> None:
    flow = book.get(flow_name)
    assert flow is not None
    known = _opened(flow_name, book)
    assert not flow.answers(known, said, "C-1001")


def test_thanks_is_no_answer_to_what_was_left_either(book: FlowBook) -> None:
    flow = book.get("lost_item")
    assert flow is not None
    known = flow.fill({}, "I think I left something at the gate", "C-1001")
    assert flow.awaited(known) == ["item"]
    assert not flow.answers(known, "great, thanks", "C-1001")
    assert flow.answers(known, "my ukulele", "C-1001")


def test_a_later_report_opens_a_case_of_its_own(book: FlowBook) -> None:
    flow = book.get("lost_item")
    assert flow is not None
    known = _opened("lost_item", book)
    # Not an answer to the question: the kept case is forgotten, a new case is opened.
    later = flow.fill(known, "I also forgot my jacket at the gate", "C-1001")
    assert "case_id" not in later
    assert [s.tool for s in flow.steps(later, "C-1001")] == ["createCase"]


def test_a_clarification_in_between_keeps_the_case_the_flow_waits_with(
    book: FlowBook, tools: ToolIndex
) -> None:
    """The message the ladder clarified ("it has my name ... on the label") held personal data;
    the next one describes the item. The flow that waits still has its case."""
    planner = Planner(load_settings().planner, book, tools, None)
    known = _opened("lost_item", book)
    request = PlanInput(
        intent="lost_item",
        text="they're black",
        slots=known,
        customer_id="C-1001",
        pending_flow="lost_item",
        clarified_text="it has my name <PERSON_1> on the label",
    )

    async def plan() -> Plan:
        return [p async for p in planner.plan(request) if isinstance(p, Plan)][-1]

    made = asyncio.run(plan())
    assert made.flow == "lost_item"
    assert [(s.tool, s.arguments.get("case_id")) for s in made.steps] == [
        ("addInteractionNote", "CS-100042")
    ]
