"""A dental message that asks for several things, through the whole mesh: every part is answered
once, or asked about, and each reads well.

Eligibility asked with the plan's benefits reads the benefits once and states the annual maximum
once (the benefits part states it); an eligibility answer names the procedure, not a code the
dental pack would withhold; the disclaimer under a claim's status does not call it a summary of
benefits. A part that cannot be served yet (no date of service) is asked about beside the parts
that can, and the next message answers it.
"""

from __future__ import annotations

from test_mesh_dental import disclaimed
from test_mesh_scenarios import finished, pending_flow, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

DATE_QUESTION = "What date is planned for the {}?"


def tools(events: list[events_pb2.TurnEvent]) -> list[str]:
    """The tools the turn's steps called, once per step."""
    return [e.step_finished.result.tool for e in events if e.WhichOneof("event") == "step_finished"]


def test_eligibility_with_the_benefits_reads_and_states_the_maximum_once(mesh: Mesh) -> None:
    events = turn(
        mesh,
        "dental-combined-1",
        "am I covered for a cleaning tomorrow, and what are my benefits?",
        "M-3001",
    )
    text = reply(events)
    assert sorted(tools(events)) == ["checkEligibility", "getBenefits"], text
    assert "You are eligible for prophylaxis (cleaning), adult on " in text, text
    assert "Switchboard Dental PPO Plus: preventive 100%" in text, text
    assert text.count("annual maximum") == 1, text
    assert disclaimed(events)


def test_an_eligibility_answer_names_the_procedure_and_no_withheld_code(mesh: Mesh) -> None:
    events = turn(
        mesh, "dental-combined-2", "Is member M-3001 eligible for a cleaning tomorrow?", "P-7001"
    )
    text = reply(events)
    assert text.startswith("Member M-3001 is eligible for prophylaxis (cleaning), adult on "), text
    assert "withheld" not in text and "()" not in text, text
    # Alone, eligibility still says what remains of the annual maximum.
    assert text.count("annual maximum remains") == 1, text


def test_the_disclaimer_under_a_claim_status_does_not_call_it_benefits(mesh: Mesh) -> None:
    events = turn(mesh, "dental-combined-3", "status of claim CL-9001", "P-7001")
    text = reply(events)
    assert text.startswith("Claim CL-9001 for member M-3001 ("), text
    assert disclaimed(events)
    assert "benefits" not in text, text


def test_a_member_asking_eligibility_without_a_date_and_benefits_gets_both(mesh: Mesh) -> None:
    session = "dental-combined-4"
    asked = turn(
        mesh, session, "am I covered for a cleaning next week, and what are my benefits?", "M-3001"
    )
    text = reply(asked)
    assert "Switchboard Dental PPO Plus: preventive 100%" in text, text
    assert DATE_QUESTION.format("cleaning") in text, text
    assert pending_flow(mesh, session) == "eligibility_check"

    answered = turn(mesh, session, "tomorrow", "M-3001")
    assert finished(answered)["checkEligibility"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(answered).startswith("You are eligible for prophylaxis (cleaning), adult on ")


def test_an_office_asking_eligibility_without_a_date_and_a_claim_gets_both(mesh: Mesh) -> None:
    session = "dental-combined-5"
    asked = turn(
        mesh,
        session,
        "is member M-3001 eligible for a ceramic crown, and what's the status of claim CL-9001?",
        "P-7001",
    )
    text = reply(asked)
    assert text.startswith("Claim CL-9001 for member M-3001 ("), text
    assert DATE_QUESTION.format("ceramic crown") in text, text
    assert pending_flow(mesh, session) == "eligibility_check"

    answered = turn(mesh, session, "tomorrow", "P-7001")
    assert finished(answered)["checkEligibility"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(answered).startswith("Member M-3001 is eligible for crown, porcelain/ceramic on ")
