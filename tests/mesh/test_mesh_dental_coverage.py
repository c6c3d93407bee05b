"""A dental office asking in plain words whether a treatment is covered, through the whole mesh.

"Is member M-3001 covered for a crown?" is an eligibility check, read with confidence, while a
question about the plan itself ("what's the annual maximum for M-3001?") stays a benefits summary.
A treatment named in words becomes its procedure code as the claims system knows it: a name that
stands for one procedure ("root canal", "x-ray") is checked by that procedure's code; a name that
stands for several ("crown") is asked about, listing them by name, and the answer picks one by its
place in the list or its code; a name the claims system does not know ("veneer") is said to be
unknown, and its code is asked for. A treatment named later is never checked by the code of an
earlier one.
"""

from __future__ import annotations

import httpx
import pytest
import yaml
from test_mesh_dental import disclaimed
from test_mesh_scenarios import finished, pending_flow, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

OFFICE, MEMBER = "P-7001", "M-3001"
DATE_QUESTION = "What date is planned for the {}?"
SUCCEEDED = common_pb2.STEP_OUTCOME_SUCCEEDED


def classified(events: list[events_pb2.TurnEvent]) -> tuple[str, float]:
    """The intent the turn's classification found, and how sure it was."""
    (found,) = [e.intent for e in events if e.WhichOneof("event") == "intent"]
    return found.name, found.confidence


def clarified(events: list[events_pb2.TurnEvent]) -> bool:
    """Whether the turn asked which request the customer meant instead of serving one."""
    return any(
        e.fallback.action == events_pb2.FALLBACK_ACTION_CLARIFY
        for e in events
        if e.WhichOneof("event") == "fallback"
    )


def checked_code(events: list[events_pb2.TurnEvent]) -> str:
    """The procedure code the turn's eligibility check was made for."""
    result = finished(events)["checkEligibility"]
    assert result.outcome == SUCCEEDED, result
    return str(result.arguments["procedure_code"])


def test_coverage_questions_naming_a_treatment_are_eligibility_checks(mesh: Mesh) -> None:
    coverage = {
        "is member M-3001 covered for a crown?": "crown",
        "does M-3001's plan cover a root canal?": "D3330",
        "is a filling covered for member M-3001?": "D2391",
        "will the plan pay for a cleaning for M-3001": "D1110",
    }
    for n, (text, treatment) in enumerate(coverage.items()):
        events = turn(mesh, f"dental-coverage-1-{n}", text, OFFICE)
        name, confidence = classified(events)
        assert (name, clarified(events)) == ("eligibility_check", False), (text, reply(events))
        # Well clear of the dental pack's clarification threshold (0.60) and margin (0.12).
        assert confidence >= 0.8, (text, confidence)
        slots = [dict(e.plan.plan.slots) for e in events if e.WhichOneof("event") == "plan"]
        assert treatment in {slots[0].get("procedure_code"), slots[0].get("treatment")}, slots

    # A question about the plan itself is no eligibility check.
    for n, text in enumerate(
        ["what's the annual maximum for M-3001?", "what does M-3001's plan cover?"]
    ):
        events = turn(mesh, f"dental-coverage-2-{n}", text, OFFICE)
        assert classified(events)[0] == "benefits_summary", text
        assert finished(events)["getBenefits"].outcome == SUCCEEDED
        assert "annual maximum remains" in reply(events), reply(events)


def test_a_name_standing_for_several_procedures_is_asked_about_by_name(mesh: Mesh) -> None:
    session = "dental-coverage-3"
    asked = turn(mesh, session, "is member M-3001 covered for a crown?", OFFICE)
    text = reply(asked)
    assert text == (
        "Which crown is it: (1) crown, porcelain/ceramic, or (2) crown, porcelain fused to high "
        'noble metal? You can say "the first one", or give me its procedure code.'
    ), text
    assert set(finished(asked)) == {"searchProcedures"}, finished(asked)
    assert not disclaimed(asked)
    assert pending_flow(mesh, session) == "eligibility_check"

    # Picked by its place in the list; then the date, and the check is for the one picked.
    picked = turn(mesh, session, "the second one", OFFICE)
    assert reply(picked) == DATE_QUESTION.format("crown"), reply(picked)
    assert not finished(picked)
    answered = turn(mesh, session, "next Tuesday", OFFICE)
    assert checked_code(answered) == "D2750"
    assert reply(answered).startswith(
        "Member M-3001 is eligible for crown, porcelain fused to high noble metal on "
    ), reply(answered)
    assert disclaimed(answered)


def test_a_choice_past_the_list_is_asked_again_and_a_code_answers_it(mesh: Mesh) -> None:
    session = "dental-coverage-4"
    turn(mesh, session, "am I covered for an exam tomorrow?", MEMBER)
    again = turn(mesh, session, "the third one", MEMBER)
    assert reply(again).startswith("Which procedure is it?"), reply(again)
    assert pending_flow(mesh, session) == "eligibility_check"
    # The date came with the question: the code is all that was missing.
    answered = turn(mesh, session, "D0150", MEMBER)
    assert checked_code(answered) == "D0150"
    assert reply(answered).startswith("You are eligible for comprehensive oral evaluation on ")


def test_a_name_standing_for_one_procedure_is_checked_by_its_code(mesh: Mesh) -> None:
    # The claims system knows one x-ray: the bitewings, never a code it would not find.
    events = turn(mesh, "dental-coverage-5", "is M-3001 covered for an x-ray next Friday?", OFFICE)
    assert checked_code(events) == "D0274"
    assert reply(events).startswith("Member M-3001 is eligible for bitewings"), reply(events)

    # Every name the flow turns into a code itself is that code, and only it, in the claims system.
    flows = yaml.safe_load(open("packs/flows/dental.yaml", encoding="utf-8"))["flows"]
    synonyms = flows["eligibility_check"]["slots"]["procedure_code"]["synonyms"]
    with httpx.Client(base_url=mesh.mocks.base_urls["claims"], timeout=10) as claims:
        for name, code in synonyms.items():
            found = claims.get("/procedures", params={"q": name}).raise_for_status().json()
            assert [p["procedure_code"] for p in found["procedures"]] == [code], name


def test_a_name_the_claims_system_does_not_know_asks_for_the_code(mesh: Mesh) -> None:
    session = "dental-coverage-6"
    asked = turn(mesh, session, "is M-3001 covered for a veneer?", OFFICE)
    assert reply(asked) == (
        'I don\'t recognise "veneer" as a procedure in the claims system. What is its procedure '
        "code? It is a D followed by four digits."
    ), reply(asked)
    assert "checkEligibility" not in finished(asked)
    assert not disclaimed(asked)
    assert pending_flow(mesh, session) == "eligibility_check"

    coded = turn(mesh, session, "D2962", OFFICE)
    assert reply(coded) == DATE_QUESTION.format("veneer"), reply(coded)
    # A code the claims system does not know either: said so, never "no such member".
    unknown = turn(mesh, session, "next Tuesday", OFFICE)
    assert finished(unknown)["checkEligibility"].http_status == 404
    assert finished(unknown)["getBenefits"].outcome == SUCCEEDED
    assert reply(unknown).startswith("The claims system doesn't know that procedure code."), reply(
        unknown
    )


@pytest.mark.parametrize("then", ["and a veneer?", "and a crown?"])
def test_a_treatment_named_later_is_never_checked_by_an_earlier_code(mesh: Mesh, then: str) -> None:
    session = f"dental-coverage-7-{then.split()[-1].strip('?')}"
    first = turn(mesh, session, "is member M-3001 eligible for D2391 next Tuesday?", OFFICE)
    assert checked_code(first) == "D2391"

    later = turn(mesh, session, then, OFFICE)
    assert "checkEligibility" not in finished(later), reply(later)
    assert set(finished(later)) == {"searchProcedures"}, finished(later)
    assert pending_flow(mesh, session) == "eligibility_check"
