"""The dental insurer's conversations through the whole mesh, as members and offices have them.

The benefits disclaimer goes with answers that state eligibility, benefits or a claim, never
with a question, a refusal or a failure; a member asking about another member is told plainly
that only their own records can be looked up, and nothing is read; an office's combined
question answers each of its parts once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from test_mesh_scenarios import calls, finished, reply, turn

from mocks.common.app import backend_of
from mocks.common.faults import FaultConfig, FaultSpec
from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

_DENTAL = {
    rule["id"]: " ".join(rule.get("message", "").split())
    for rule in yaml.safe_load(open("governance/packs/dental.yaml", encoding="utf-8"))["rules"]
}
DISCLAIMER = _DENTAL["benefits-disclaimer"]
ONLY_YOUR_OWN = _DENTAL["member-names-another-member"]
CLAIM_READS = ("listMemberClaims", "getClaim", "getBenefits", "checkEligibility", "getMember")


def disclaimed(events: list[events_pb2.TurnEvent]) -> bool:
    """Whether the reply carries the benefits disclaimer, as text and as a policy event."""
    said = DISCLAIMER in reply(events)
    ruled = any(
        e.policy.action == common_pb2.POLICY_ACTION_DISCLAIM
        for e in events
        if e.WhichOneof("event") == "policy"
    )
    assert said == ruled, reply(events)
    return said


@pytest.fixture
def claims_down(mesh: Mesh) -> Iterator[None]:
    """The claims system answers every request with a 503."""
    faults = backend_of(mesh.mocks.apps["claims"]).faults
    before = faults.config
    faults.configure(FaultConfig(default=FaultSpec(error_rate=1.0)))
    try:
        yield
    finally:
        faults.configure(before)


def test_a_question_for_a_missing_detail_carries_no_disclaimer(mesh: Mesh) -> None:
    asked = turn(mesh, "dental-x-1", "am I covered for a porcelain crown?", "M-3001")
    assert reply(asked) == "What date is planned for the porcelain crown?"
    assert not disclaimed(asked)

    answered = turn(mesh, "dental-x-1", "next Tuesday", "M-3001")
    assert finished(answered)["checkEligibility"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(answered).startswith("You are eligible for crown"), reply(answered)
    assert disclaimed(answered)


def test_a_procedures_catalogue_name_reaches_the_reply_unmasked(mesh: Mesh) -> None:
    """The catalogue's name "root canal, molar" is no person's: the tagger alone reads "molar"
    after a comma as a surname, so the contract marks the field public."""
    answered = turn(mesh, "dental-x-molar", "am I covered for a root canal tomorrow?", "M-3001")
    eligibility = finished(answered)["checkEligibility"]
    assert eligibility.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(answered).startswith("You are eligible for root canal, molar on"), reply(answered)
    assert "<PERSON" not in reply(answered)


def test_every_answer_stating_benefits_or_a_claim_carries_the_disclaimer(mesh: Mesh) -> None:
    for session, text, customer in [
        ("dental-x-2", "what are my dental benefits?", "M-3001"),
        ("dental-x-3", "what's the status of my claim?", "M-3001"),
        ("dental-x-4", "status of claim CL-9001", "P-7001"),
        ("dental-x-5", "Is member M-3001 eligible for a cleaning tomorrow?", "P-7001"),
    ]:
        events = turn(mesh, session, text, customer)
        assert disclaimed(events), (text, reply(events))


def test_a_claim_not_found_and_a_claims_outage_carry_no_disclaimer(
    mesh: Mesh, claims_down: None
) -> None:
    down = turn(mesh, "dental-x-6", "what are my dental benefits?", "M-3001")
    assert reply(down).startswith("I couldn't reach the claims system"), reply(down)
    assert not disclaimed(down)


def test_a_claim_the_member_does_not_have_carries_no_disclaimer(mesh: Mesh) -> None:
    missing = turn(mesh, "dental-x-7", "status of claim CL-9999", "M-3001")
    assert reply(missing).startswith("I couldn't find claim CL-9999"), reply(missing)
    assert not disclaimed(missing)


def test_a_member_naming_another_member_is_told_and_nothing_is_read(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    events = turn(
        mesh, "dental-x-8", "what's the status of claim CL-9001 for member M-3002?", "M-3001"
    )
    assert reply(events) == ONLY_YOUR_OWN
    assert not finished(events) and not calls(mesh, "claims", *CLAIM_READS)

    # Their own id is no other member: the member is served as themself.
    own = turn(mesh, "dental-x-9", "status of claim CL-9001 for member M-3001", "M-3001")
    assert reply(own).startswith("Your claim CL-9001 ("), reply(own)


def test_an_office_still_names_its_patients(mesh: Mesh) -> None:
    events = turn(mesh, "dental-x-10", "status of claim CL-9001 for member M-3001", "P-7001")
    assert reply(events).startswith("Claim CL-9001 for member M-3001 ("), reply(events)


def test_an_office_combined_question_answers_the_claim_once(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    for session, text in [
        (
            "dental-x-11",
            "Is member M-3001 eligible for a cleaning tomorrow, and what's the status "
            "of claim CL-9001?",
        ),
        (
            "dental-x-12",
            "what's the status of claim CL-9001 for member M-3001 and is she "
            "eligible for a cleaning tomorrow?",
        ),
    ]:
        events = turn(mesh, session, text, "P-7001")
        text = reply(events)
        assert "eligible for prophylaxis" in text, text
        assert text.count("CL-9001") == 1 and text.count("under review") == 1, text
        assert text.count(DISCLAIMER) == 1, text
    assert len(calls(mesh, "claims", "getClaim")) == 2


def test_a_question_about_the_plan_itself_is_answered_from_the_coverage(mesh: Mesh) -> None:
    # No procedure named: whether the coverage is in force, not "which procedure is it?".
    asked = turn(mesh, "dental-x-13", "is my dental plan active?", "M-3001")
    text = reply(asked)
    assert text.startswith("Your coverage is active, since "), text
    assert "To check a treatment, tell me which one and when" in text, text
    assert "withheld" not in text and disclaimed(asked), text
    assert "checkEligibility" not in finished(asked)
    # An office asks about its patient the same way.
    office = reply(turn(mesh, "dental-x-14", "is member M-3001 covered?", "P-7001"))
    assert office.startswith("Member M-3001's coverage is active, since "), office
