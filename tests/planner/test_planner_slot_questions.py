"""A slot's question names what the flow already knows, and its plain question stands in when
that is unknown or a placeholder; a question naming what the flow cannot know fails the load."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.planner.flows import FlowBook
from services.planner.tools import ToolIndex
from services.runtime.errors import ConfigError

PLAIN = "On what date is the procedure planned?"


def _asked(book: FlowBook, text: str, known: dict[str, str] | None = None) -> str:
    flow = book.get("eligibility_check")
    assert flow is not None
    slots = flow.fill(known or {}, text, "P-7001")
    missing = flow.missing(slots, "P-7001")
    assert missing == ["date_of_service"], (slots, missing)
    return flow.questions(missing, slots, text)


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("does M-3001's plan cover a root canal?", "What date is planned for the root canal?"),
        ("is M-3001 eligible for an xray", "What date is planned for the x-ray?"),
        ("can M-3001 get a porcelain crown", "What date is planned for the porcelain crown?"),
        # A code alone names nothing the customer said; it is withheld from replies anyway.
        ("is M-3001 eligible for D2740?", PLAIN),
    ],
)
def test_the_date_question_names_the_treatment_as_the_customer_named_it(
    book: FlowBook, text: str, question: str
) -> None:
    assert _asked(book, text) == question


def test_the_treatment_named_before_a_choice_is_named_after_it(book: FlowBook) -> None:
    flow = book.get("eligibility_check")
    assert flow is not None
    asked = flow.fill({}, "is M-3001 covered for a crown?", "P-7001")
    # The customer picked the first crown the claims system listed: the answer keeps the words.
    known = {**asked, "procedure_code_options": "D2740 D2750"}
    picked = flow.fill(known, "the first one", "P-7001", flow.awaited(known), answered=True)
    assert picked["procedure_code"] == "D2740"
    assert flow.questions(["date_of_service"], picked, "the first one") == (
        "What date is planned for the crown?"
    )


def test_a_placeholder_is_never_asked_about(book: FlowBook) -> None:
    flow = book.get("eligibility_check")
    assert flow is not None
    slots = {"member_id": "M-3001", "procedure_code": "D2391", "procedure_words": "<PERSON_1>"}
    assert flow.questions(["date_of_service"], slots) == PLAIN


_FLOW = """
industry: dental
flows:
  eligibility_check:
    slots:
      member_id: {{patterns: ['M-[0-9]{{4}}'], question: 'Which member?'}}
      for_whom: {{patterns: ['for (\\S+)'], required: false}}
      date_of_service:
        patterns: ['[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}']
        question: {question}
        {plain}
    steps:
      - id: eligibility
        tool: checkEligibility
        arguments:
          member_id: '${{slots.member_id}}'
          procedure_code: D1110
          date_of_service: '${{slots.date_of_service}}'
    replies:
      - text: Done.
"""


def _load(tmp_path: Path, tools: ToolIndex, question: str, plain: str = "") -> FlowBook:
    line = f"plain_question: {plain}" if plain else ""
    text = _FLOW.format(question=question, plain=line)
    (tmp_path / "questions.yaml").write_text(text, encoding="utf-8")
    return FlowBook.load(tmp_path, tools)


def test_a_slot_whose_value_is_a_placeholder_gets_the_plain_question(
    tmp_path: Path, tools: ToolIndex
) -> None:
    book = _load(tmp_path, tools, "'When is it for {{ slots.for_whom }}?'", "When is it?")
    flow = book.get("eligibility_check")
    assert flow is not None
    # The masked text: the pii service stood a placeholder for the person's name.
    slots = flow.fill({}, "is M-1234 covered for <PERSON_1>", "")
    assert slots["for_whom"] == "<PERSON_1>"
    assert flow.questions(["date_of_service"], slots) == "When is it?"
    slots = flow.fill({}, "is M-1234 covered for cleaning", "")
    assert flow.questions(["date_of_service"], slots) == "When is it for cleaning?"
    assert flow.questions(["date_of_service"], {"member_id": "M-1234"}) == "When is it?"


@pytest.mark.parametrize(
    ("question", "plain", "problem"),
    [
        (
            "'When is the {{ slots.treatment }} planned?'",
            "When?",
            "slot date_of_service: question names unknown slot 'treatment'",
        ),
        (
            "'When is it for {{ slots.for_whom }}?'",
            "",
            "slot date_of_service: a question naming slots needs a plain_question",
        ),
        (
            "'Is {{ slots.date_of_service }} right?'",
            "When?",
            "slot date_of_service: question names its own slot",
        ),
        (
            "'When is it for {{ steps.eligibility.result.member_id }}?'",
            "When?",
            "slot date_of_service: question reads 'steps'",
        ),
        (
            "'When? {{ slots | length }}'",
            "When?",
            "slot date_of_service: question reads 'slots'",
        ),
        (
            "When is it?",
            "When?",
            "slot date_of_service: plain_question is only for a question that names slots",
        ),
        (
            "'When is it for {{ slots.for_whom }}?'",
            "'When is it for {{ slots.member_id }}?'",
            "slot date_of_service: plain_question names nothing",
        ),
        (
            "'When is it for {{ slots.for_whom ?'",
            "When?",
            "slot date_of_service: question: template error",
        ),
    ],
)
def test_a_question_naming_what_the_flow_cannot_know_fails_to_load(
    tmp_path: Path, tools: ToolIndex, question: str, plain: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, tools, question, plain)
    message = raised.value.message
    assert f"questions.yaml: eligibility_check: {problem}" in message, message
