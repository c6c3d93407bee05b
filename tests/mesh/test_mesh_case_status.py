"""News on a case already reported, through the whole mesh: the CRM's cases are read and told, by
number, by what the case is about or all the open ones, and a follow-up never opens a second."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from crm_cases import cases_left_as_found, cases_opened
from google.protobuf.json_format import MessageToDict
from test_mesh_scenarios import finished, intent, reply, shown_day, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2


@pytest.fixture
def cases(mesh: Mesh) -> Iterator[None]:
    with cases_left_as_found(mesh):
        yield


def _followed_up(events: list[events_pb2.TurnEvent], customer: str) -> None:
    """The turn read the customer's cases, served as a follow-up, and changed nothing."""
    assert intent(events) == "case_status", reply(events)
    assert not [e for e in events if e.WhichOneof("event") == "fallback"], reply(events)
    results = finished(events)
    assert set(results) == {"listCases"}, set(results)
    read = results["listCases"]
    assert read.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, read.error
    assert {c["customer_id"] for c in MessageToDict(read.result)["cases"]} <= {customer}


def test_a_wallet_left_on_the_plane_is_followed_up_without_a_second_case(
    mesh: Mesh, cases: None
) -> None:
    world = mesh.mocks.world
    assert world is not None
    # SBX7Q2's flight as it is now (the storm scenario may have moved it off UA123).
    (segment,) = world.reservations["SBX7Q2"].segments
    flight = segment.flight_number
    before = len(cases_opened(mesh, "C-1001"))
    reported = turn(mesh, "case-1", f"I left my wallet on the plane on {flight}", "C-1001")
    assert intent(reported) == "lost_item"
    case = world.cases[finished(reported)["createCase"].result["case_id"]]

    for asked in ("any news on my wallet?", f"any update on case {case.case_id}?"):
        events = turn(mesh, "case-1", asked, "C-1001")
        _followed_up(events, "C-1001")
        opened = shown_day(case.created_at)
        assert (
            f"Your case {case.case_id} (Lost property: wallet), opened on {opened}, is open. The "
            f"latest note on it, from {opened}: Reservation SBX7Q2, flight {flight} on "
            f"{segment.date.isoformat()}."
        ) in reply(events), reply(events)
    assert len(cases_opened(mesh, "C-1001")) == before + 1


@pytest.mark.parametrize(
    "asked",
    [
        "what's happening with my lost bag report?",
        "has anyone looked at my compensation claim yet?",
        "what's the status of my compensation request",
        "any news on my case?",
    ],
)
def test_a_follow_up_never_opens_a_case(mesh: Mesh, cases: None, asked: str) -> None:
    # Each of these opened a case (baggage_issue, compensation_claim) or asked a dental office
    # for its provider id (claim_status) before it was read as a follow-up.
    events = turn(mesh, "case-2-" + "-".join(re.findall("[a-z]+", asked)), asked, "C-1001")
    _followed_up(events, "C-1001")
    assert not cases_opened(mesh, "C-1001")


def test_a_closed_case_named_by_its_number_is_told_with_its_latest_note(
    mesh: Mesh, cases: None
) -> None:
    world = mesh.mocks.world
    assert world is not None
    demo = world.cases["CS-1001"]
    events = turn(mesh, "case-3", "any update on case CS-1001?", "C-1001")
    _followed_up(events, "C-1001")
    assert reply(events) == (
        "Your case CS-1001 (Bag delayed on arrival at SFO), opened on "
        f"{shown_day(demo.created_at)}, is closed. The latest note on it, from "
        f"{shown_day(demo.notes[-1].created_at)}: Bag delivered to home address."
    ), reply(events)


def test_someone_elses_case_is_never_told(mesh: Mesh, cases: None) -> None:
    # CS-1001 is Maya Chen's: Grace Kim reads only her own cases (none), so nothing of it shows.
    events = turn(mesh, "case-4", "any update on case CS-1001?", "C-1004")
    _followed_up(events, "C-1004")
    assert reply(events) == (
        "I can't find case CS-1001 among your cases; please check the number."
    ), reply(events)


def test_no_open_case_is_said_plainly_with_how_to_report_one(mesh: Mesh, cases: None) -> None:
    anything = turn(mesh, "case-5", "any news on my case?", "C-1004")
    _followed_up(anything, "C-1004")
    assert reply(anything) == (
        "I don't see an open case on your account. Would you like to report something? Tell me "
        "what happened (a bag that didn't arrive, something left on board, a disrupted flight) "
        "and I'll open a case."
    ), reply(anything)

    wallet = turn(mesh, "case-5", "any news on my wallet?", "C-1004")
    _followed_up(wallet, "C-1004")
    assert reply(wallet) == (
        "I don't see an open case about your wallet. If you left it on board or at the gate, "
        "tell me on which flight and I'll open a lost property case."
    ), reply(wallet)
    assert not cases_opened(mesh, "C-1004")


def test_a_follow_up_is_answered_without_a_likely_flow_that_would_do_nothing(
    mesh: Mesh, cases: None
) -> None:
    # lost_item is likely here too, and its slots are known, but this is no report: it would
    # only have added its prompt ("Tell me what you left behind ...") under the answer.
    events = turn(mesh, "case-8", "did anyone find my headphones?", "C-1004")
    _followed_up(events, "C-1004")
    assert reply(events) == (
        "I don't see an open case about your headphones. If you left it on board or at the "
        "gate, tell me on which flight and I'll open a lost property case."
    ), reply(events)


def test_a_closed_bag_case_is_told_when_no_open_one_matches(mesh: Mesh, cases: None) -> None:
    world = mesh.mocks.world
    assert world is not None
    assert not [
        c
        for c in world.cases.values()
        if c.customer_id == "C-1001" and c.category == "baggage" and c.status != "closed"
    ]
    demo = world.cases["CS-1001"]
    events = turn(mesh, "case-6", "any update on my bag?", "C-1001")
    _followed_up(events, "C-1001")
    assert reply(events).startswith(
        "I don't see an open case about your bag. The latest one, case CS-1001 (Bag delayed on "
        f"arrival at SFO), opened on {shown_day(demo.created_at)}, is closed."
    ), reply(events)
    assert reply(events).endswith(
        "If your bag didn't arrive or arrived damaged, tell me what happened and on which flight, "
        "and I'll open a baggage case."
    ), reply(events)


def test_the_open_cases_are_listed_briefly_and_one_is_picked_by_what_it_is_about(
    mesh: Mesh, cases: None
) -> None:
    world = mesh.mocks.world
    assert world is not None
    # Sofia Reyes has no case: one for a bet, one for a phone left at the gate.
    bet = turn(mesh, "case-7", "why was my bet voided", "C-1006")
    phone = turn(mesh, "case-7", "I left my phone at the gate", "C-1006")
    opened = [world.cases[finished(e)["createCase"].result["case_id"]] for e in (bet, phone)]
    assert [c.subject for c in opened] == ["Bet settlement query", "Lost property: phone"]

    listed = turn(mesh, "case-7", "any updates on my open cases?", "C-1006")
    _followed_up(listed, "C-1006")
    text = reply(listed)
    assert text.startswith("You have 2 open cases: "), text
    for case in opened:
        assert f"{case.case_id} ({case.subject}, opened {shown_day(case.created_at)})" in text, text
    assert text.endswith("Ask me about one by its number for its latest news."), text

    about = turn(mesh, "case-7", "any news on my phone?", "C-1006")
    _followed_up(about, "C-1006")
    assert reply(about) == (
        f"Your case {opened[1].case_id} (Lost property: phone), opened on "
        f"{shown_day(opened[1].created_at)}, is open. There are no notes on it yet."
    ), reply(about)
    assert len(cases_opened(mesh, "C-1006")) == 2
