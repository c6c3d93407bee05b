"""An unhappy customer through the whole mesh: heard as a complaint (not a "no" or a goodbye),
logged as a complaint case on their account in their own masked words, offered a colleague, and
never the trigger of a change that waits for their word.

Every case these tests open is taken out of the CRM's world afterwards (``cases_left_as_found``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from crm_cases import cases_left_as_found, cases_opened
from test_mesh_scenarios import calls, finished, intent, pending_flow, reply, session_of, turn

from mocks.common.app import backend_of
from mocks.common.faults import FaultConfig, FaultSpec
from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

#: what every complaint reply offers, in these words
AGENT_OFFER = 'If you\'d like to talk it through with a colleague, just say "agent".'


@pytest.fixture
def cases(mesh: Mesh) -> Iterator[None]:
    with cases_left_as_found(mesh):
        yield


def _of_kind(events: list[events_pb2.TurnEvent], kind: str) -> list[events_pb2.TurnEvent]:
    return [e for e in events if e.WhichOneof("event") == kind]


def _logged(mesh: Mesh, events: list[events_pb2.TurnEvent], customer: str) -> str:
    """The turn was heard as a complaint and logged as one case of the customer's, whose reply
    names it and offers a colleague; the case's id."""
    assert intent(events) == "complaint", reply(events)
    assert not _of_kind(events, "fallback"), reply(events)
    results = finished(events)
    opened = results["createCase"]
    assert opened.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, opened.error
    case_id = str(opened.result["case_id"])
    world = mesh.mocks.world
    assert world is not None
    case = world.cases[case_id]
    assert (case.customer_id, case.category, case.status) == (customer, "complaint", "open")
    assert reply(events) == (
        "I'm sorry this has been so frustrating. I've logged your complaint on your account as "
        f"case {case_id}. {AGENT_OFFER}"
    ), reply(events)
    return case_id


def _words_on(mesh: Mesh, case_id: str) -> str:
    """The note the complaint left on its case."""
    world = mesh.mocks.world
    assert world is not None
    (note,) = world.cases[case_id].notes
    assert note.channel == "chat"
    return str(note.text)


def test_the_angry_follow_up_to_a_withdrawal_is_logged_and_can_be_followed_up(
    mesh: Mesh, cases: None
) -> None:
    session = "complaint-withdrawal"
    asked = turn(mesh, session, "where is my withdrawal?", "C-1002")
    assert intent(asked) == "withdrawal_status"
    assert "W-5001" in reply(asked) and "createCase" not in finished(asked)

    # Read as a "decline" and clarified with "decline, ask how a bet was settled or end the
    # conversation" before there was a complaint to hear.
    angry = turn(mesh, session, "it's been five days, this is ridiculous", "C-1002")
    case_id = _logged(mesh, angry, "C-1002")
    assert _words_on(mesh, case_id) == (
        "In the customer's words: it's been five days, this is ridiculous"
    )

    followed = turn(mesh, session, "any news on my complaint?", "C-1002")
    assert intent(followed) == "case_status"
    assert f"Your case {case_id} (Complaint made in chat), opened on " in reply(followed)
    assert "it's been five days, this is ridiculous" in reply(followed), reply(followed)
    assert len(cases_opened(mesh, "C-1002")) == 1


@pytest.mark.parametrize(
    "said",
    [
        "I'm really unhappy with your service",
        "this is unacceptable",
        "I want to make a complaint",
        "you people are useless",
        "I've been waiting for ages",
        "I want to complain about my withdrawal",
    ],
)
def test_a_complaint_in_any_words_is_heard_and_logged(mesh: Mesh, cases: None, said: str) -> None:
    # Each was read as human_agent, decline, goodbye or withdrawal_status, or clarified.
    session = "complaint-said-" + "-".join(re.findall("[a-z]+", said.lower()))
    events = turn(mesh, session, said, "C-1002")
    case_id = _logged(mesh, events, "C-1002")
    assert _words_on(mesh, case_id) == f"In the customer's words: {said}"


def test_the_words_logged_hold_nothing_personal(mesh: Mesh, cases: None) -> None:
    said = "Jordan Patel here, this is unacceptable, I've been waiting five days"
    events = turn(mesh, "complaint-personal", said, "C-1002")
    case_id = _logged(mesh, events, "C-1002")
    logged = _words_on(mesh, case_id)
    assert "this is unacceptable, I've been waiting five days" in logged, logged
    # The name reached the planner as a placeholder, and the placeholder is left out.
    for personal in ("Jordan", "Patel", "<"):
        assert personal not in logged, logged


def test_a_colleague_is_a_word_away(mesh: Mesh, cases: None) -> None:
    session = "complaint-agent"
    _logged(mesh, turn(mesh, session, "this is a disgrace", "C-1002"), "C-1002")
    handed = turn(mesh, session, "agent", "C-1002")
    assert _of_kind(handed, "handoff"), reply(handed)
    assert len(cases_opened(mesh, "C-1002")) == 1


def test_without_an_account_only_a_colleague_is_offered(mesh: Mesh, cases: None) -> None:
    events = turn(mesh, "complaint-anonymous", "this is unacceptable", "")
    assert intent(events) == "complaint"
    assert not _of_kind(events, "fallback")
    assert reply(events) == f"I'm sorry this has been so frustrating. {AGENT_OFFER}"
    assert not calls(mesh, "crm", "createCase", "addInteractionNote")


def test_a_complaint_the_crm_cannot_take_says_so(mesh: Mesh, cases: None) -> None:
    faults = backend_of(mesh.mocks.apps["crm"]).faults
    before = faults.config
    faults.configure(FaultConfig(operations={"createCase": FaultSpec(error_rate=1.0)}))
    try:
        events = turn(mesh, "complaint-crm-down", "your service is terrible", "C-1002")
    finally:
        faults.configure(before)
    assert intent(events) == "complaint"
    assert finished(events)["createCase"].outcome != common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(events) == (
        "I'm sorry this has been so frustrating. I couldn't log your complaint just now; say "
        '"agent" and I\'ll pass you to a colleague who can.'
    ), reply(events)
    assert "CS-" not in reply(events)


@pytest.mark.parametrize("step", ["offer", "confirmation"])
def test_a_complaint_never_makes_the_change_that_waits_for_an_answer(
    mesh: Mesh, cases: None, step: str
) -> None:
    # A complaint while the rebooking waits for the flight to be chosen, or for the "yes" to
    # move onto it, is heard and logged; it is no answer to either, so nothing is rebooked, and
    # the question it came between still stands.
    session = "complaint-pending-" + step
    before = len(calls(mesh, "booking", "rebookReservation"))
    offered = turn(mesh, session, "I need to rebook SBX7Q2 onto a later flight", "C-1001")
    assert "UA891" in reply(offered) and pending_flow(mesh, session) == "rebook_flight"
    if step == "confirmation":
        held = turn(mesh, session, "book UA891", "C-1001")
        assert "Reply yes to go ahead" in reply(held), reply(held)
    angry = turn(mesh, session, "this is ridiculous, I'm so angry", "C-1001")
    _logged(mesh, angry, "C-1001")
    assert "rebookReservation" not in finished(angry)
    assert len(calls(mesh, "booking", "rebookReservation")) == before
    if step == "offer":
        assert pending_flow(mesh, session) == "rebook_flight"
        answered = turn(mesh, session, "the 21:10 one", "C-1001")
        assert "I'm about to move reservation SBX7Q2" in reply(answered), reply(answered)
    else:
        waiting = session_of(mesh, session).pending_plan
        assert "rebookReservation" in [step.tool for step in waiting.steps]
    turn(mesh, session, "no", "C-1001")
    assert len(calls(mesh, "booking", "rebookReservation")) == before
