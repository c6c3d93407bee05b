"""A claim paid at less than its charge, through the whole mesh: the status says what was charged,
what the plan allows and what it paid, and "why was it reduced?" after it is answered from the
claim the conversation is about.

CL-9002 (demo data) was charged 110.00 USD and allowed and paid at 95.00 USD; the claims system
gives no adjustment reason, so the only one offered is what an allowed amount under the charge
means. CL-9001 is still under review: nothing allowed or paid, so no amounts beyond its charge.
"""

from __future__ import annotations

import re

import pytest
from test_mesh_scenarios import finished, intent, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

OFFICE = "P-7001"
MEMBER = "M-3001"
AMOUNTS = "Of the 110.00 USD charged, the plan allows 95.00 USD and paid 95.00 USD"
WHY = "the plan's allowed amount for the procedure is lower than the charge."


def read_claim(events: list[events_pb2.TurnEvent]) -> str:
    """The claim id the turn read (and read successfully)."""
    read = finished(events)["getClaim"]
    assert read.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, reply(events)
    return str(read.arguments["claim_id"])


@pytest.mark.parametrize(
    "follow_up",
    ["why was it reduced?", "why did you pay less than we billed?", "why wasn't it paid in full?"],
)
def test_an_office_asking_why_a_paid_claim_was_reduced_hears_the_amounts(
    mesh: Mesh, follow_up: str
) -> None:
    session = "dental-reduced-" + re.sub(r"[^\w.:-]", "-", follow_up)
    status = turn(mesh, session, "what's the status of claim CL-9002?", OFFICE)
    assert reply(status).startswith("Claim CL-9002 for member M-3001 (110.00 USD"), reply(status)
    assert f"{AMOUNTS}: {WHY}" in reply(status), reply(status)

    why = turn(mesh, session, follow_up, OFFICE)
    assert intent(why) == "claim_status", reply(why)
    assert read_claim(why) == "CL-9002"
    assert f"{AMOUNTS}: {WHY}" in reply(why), reply(why)


def test_a_member_asking_why_their_claim_was_paid_less_hears_the_amounts(mesh: Mesh) -> None:
    events = turn(
        mesh, "dental-reduced-member", "why was my claim CL-9002 paid less than billed?", MEMBER
    )
    assert intent(events) == "claim_status"
    assert read_claim(events) == "CL-9002"
    text = reply(events)
    assert text.startswith("Your claim CL-9002 (110.00 USD"), text
    assert f"{AMOUNTS}: {WHY}" in text, text


def test_a_claim_not_yet_decided_states_no_amounts(mesh: Mesh) -> None:
    session = "dental-reduced-undecided"
    turn(mesh, session, "what's the status of claim CL-9001?", OFFICE)
    why = turn(mesh, session, "why was it reduced?", OFFICE)
    # Read as the claim it follows, which nothing has reduced: its status, and no amounts.
    assert intent(why) == "claim_status", reply(why)
    assert read_claim(why) == "CL-9001"
    assert "is under review" in reply(why) and "allows" not in reply(why), reply(why)
