"""A bag that did not arrive through the whole mesh: a baggage case at once, in the customer's
words, with what to do next; questions about what may be carried stay with the rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crm_cases import cases_left_as_found, cases_opened
from test_mesh_scenarios import finished, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2


@pytest.fixture
def cases(mesh: Mesh) -> Iterator[set[str]]:
    with cases_left_as_found(mesh) as before:
        yield before


def _intent(events: list[events_pb2.TurnEvent]) -> str:
    (intent,) = [e.intent for e in events if e.WhichOneof("event") == "intent"]
    return intent.name


def test_a_bag_that_did_not_arrive_gets_a_baggage_case_at_once(mesh: Mesh, cases: set[str]) -> None:
    before = len(cases_opened(mesh, "C-1001"))
    events = turn(mesh, "bag-1", "my bag didn't arrive at SFO", "C-1001")
    assert _intent(events) == "baggage_issue"
    assert not [e for e in events if e.WhichOneof("event") == "fallback"], reply(events)
    created = finished(events)["createCase"]
    assert created.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, created.error
    (sent,) = cases_opened(mesh, "C-1001")[before:]
    assert sent.body["category"] == "baggage"
    assert sent.body["description"] == "my bag didn't arrive at SFO"
    case_id = created.result["case_id"]
    case = mesh.mocks.world.cases[case_id]
    assert case_id not in cases and case.customer_id == "C-1001" and case.category == "baggage"
    text = reply(events)
    assert text.startswith(f"I've opened baggage case {case_id};"), text
    assert "baggage service office" in text and "bag tag" in text, text
    assert "Checked baggage allowance" not in text, text

    # Describing the bag afterwards opens no second case, nor answers with the allowance.
    described = turn(mesh, "bag-1", "it's a blue suitcase", "C-1001")
    assert "createCase" not in finished(described)
    assert len(cases_opened(mesh, "C-1001")) == before + 1
    assert "Checked baggage allowance" not in reply(described), reply(described)

    # Questions about what may be carried stay with the baggage rules, and open no case.
    for session, text, title in [
        ("bag-3", "how many bags can I check?", "Checked baggage allowance"),
        ("bag-4", "can I bring my dog?", "Travelling with pets"),
    ]:
        events = turn(mesh, session, text, "C-1001")
        assert _intent(events) == "baggage_policy", text
        assert reply(events).startswith(f"{title}: "), reply(events)
    assert len(cases_opened(mesh, "C-1001")) == before + 1


def test_an_anonymous_report_is_filed_once_the_caller_proves_the_account_is_theirs(
    mesh: Mesh, cases: set[str]
) -> None:
    before = len(cases_opened(mesh, "C-1001"))
    # SBX7Q2's flight as it is now (the storm scenario may have moved it off UA123).
    flight = mesh.mocks.world.reservations["SBX7Q2"].segments[0].flight_number
    report = f"my suitcase was damaged on flight {flight[:2]} {flight[2:]}"
    asked = turn(mesh, "bag-2", report, "")
    assert reply(asked).startswith("Could you give me your customer number?"), reply(asked)
    assert "createCase" not in finished(asked)

    # A number typed in an anonymous chat names an account, not who types: no case on it yet,
    # but what to do meanwhile.
    refused = turn(mesh, "bag-2", "C-1001", "")
    assert finished(refused)["createCase"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert reply(refused).startswith(
        "I haven't opened a baggage case yet. Before I look at an account, I need to check that "
        "it's yours."
    ), reply(refused)
    assert "Meanwhile, here is what to do: Delayed, damaged or lost baggage:" in reply(refused)
    assert len(cases_opened(mesh, "C-1001")) == before

    proven = turn(mesh, "bag-2", "maya.chen@example.com", "")
    assert reply(proven).startswith("Thank you, that matches our records"), reply(proven)
    answered = turn(mesh, "bag-2", report, "")
    results = finished(answered)
    created = results["createCase"]
    assert created.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, created.error
    (sent,) = cases_opened(mesh, "C-1001")[before:]
    assert sent.body["description"] == report
    # The flight named finds the reservation on it, noted on the case.
    assert results["addInteractionNote"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    case = mesh.mocks.world.cases[created.result["case_id"]]
    assert [n.text for n in case.notes] == [f"Reservation SBX7Q2 on flight {flight}."]
    text = reply(answered)
    assert f"case {case.case_id} for reservation SBX7Q2 on flight {flight}" in text, text
