"""The eligibility check's date question names the treatment as the customer named it, through
the whole mesh: never a code (the dental pack withholds them) and never a person's placeholder."""

from __future__ import annotations

from test_mesh_scenarios import finished, masked, pending_flow, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2

OFFICE, MEMBER = "P-7001", "M-3001"


def test_the_date_question_names_the_treatment_and_the_answer_checks_it(mesh: Mesh) -> None:
    session = "dental-question-1"
    asked = turn(mesh, session, "does M-3001's plan cover a root canal?", OFFICE)
    assert reply(asked) == "What date is planned for the root canal?", reply(asked)
    assert pending_flow(mesh, session) == "eligibility_check"

    answered = turn(mesh, session, "2026-12-01", OFFICE)
    checked = finished(answered)["checkEligibility"]
    assert checked.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert checked.arguments["procedure_code"] == "D3330"
    assert "root canal" in reply(answered), reply(answered)


def test_a_member_is_asked_about_their_own_treatment(mesh: Mesh) -> None:
    asked = turn(mesh, "dental-question-2", "am I covered for braces?", MEMBER)
    assert reply(asked) == "What date is planned for the braces?", reply(asked)


def test_a_code_alone_is_asked_about_plainly(mesh: Mesh) -> None:
    asked = turn(mesh, "dental-question-3", "is M-3001 eligible for D2740?", OFFICE)
    assert reply(asked) == "On what date is the procedure planned?", reply(asked)


def test_a_person_named_in_the_message_is_never_in_the_question(mesh: Mesh) -> None:
    text = "Hi, this is Dr. Maria Lopez, is M-3001 covered for fillings?"
    assert "<PERSON_" in masked(mesh, text)
    asked = turn(mesh, "dental-question-4", text, OFFICE)
    assert reply(asked) == "What date is planned for the filling?", reply(asked)
