"""Through the whole mesh: what the embedded engine's replies say.

A change a policy refuses is explained in the policy's words; a plan member is served as
themself, and only once verified; a knowledge question is answered from the article on it, or
not at all; and no reply shows a masked placeholder.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import yaml
from crm_cases import cases_left_as_found
from test_mesh_scenarios import calls, finished, reply, session_of, turn

from mocks.common.app import backend_of
from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

#: what the policy packs say to the customer (governance/packs/*.yaml)
_PACKS = {
    pack: {r["id"]: " ".join(r.get("message", "").split()) for r in document["rules"]}
    for pack in ("airline", "dental")
    for document in [yaml.safe_load(open(f"governance/packs/{pack}.yaml", encoding="utf-8"))]
}
VERIFY_ACCOUNT = _PACKS["airline"]["account-change-needs-verified-identity"]
VERIFY_MEMBER = _PACKS["dental"]["member-data-needs-verified-identity"]


def media(events: list[events_pb2.TurnEvent]) -> list[common_pb2.RichMedia]:
    return [e.rich_media for e in events if e.WhichOneof("event") == "rich_media"]


@pytest.fixture
def members_unverified(mesh: Mesh) -> Iterator[None]:
    """A deployment whose channels do not vouch for members (M-…): by default the member
    portal's sign-in verifies them, as the provider portal's does for dental offices."""
    runner = mesh.servers["router"].service.servicer.runner
    assert runner is not None
    before = runner.identity_checks
    assert any(check.prefix == "M-" and not check.tool for check in before), before
    runner.identity_checks = tuple(check for check in before if check.prefix != "M-")
    try:
        yield
    finally:
        runner.identity_checks = before


def test_a_refused_cancellation_says_why_in_the_policys_words(mesh: Mesh) -> None:
    # C-5607's identity is not verified: the airline pack refuses the cancellation.
    events = turn(mesh, "replies-refused-1", "cancel my reservation DMJ5SB", "C-5607")
    refused = finished(events)["cancelReservation"]
    assert refused.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert reply(events) == f"I haven't cancelled reservation DMJ5SB. {VERIFY_ACCOUNT}"
    assert "account-change" not in reply(events) and "BLOCK" not in reply(events)
    assert not calls(mesh, "booking", "cancelReservation")


def test_a_member_not_verified_gets_the_dental_packs_message_and_no_data(
    mesh: Mesh, members_unverified: None
) -> None:
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    for session, text, tool in [
        ("replies-member-1", "hi, what's the status of my claim", "listMemberClaims"),
        ("replies-member-2", "what does my plan cover?", "getBenefits"),
    ]:
        events = turn(mesh, session, text, "M-3001")
        assert finished(events)[tool].outcome == common_pb2.STEP_OUTCOME_REJECTED
        text = reply(events)
        assert text.startswith(VERIFY_MEMBER), text
        assert "provider id" not in text and "member's id" not in text, text
    assert not calls(mesh, "claims", "listMemberClaims", "getBenefits", "getClaim")


def test_a_verified_member_is_served_as_themself(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["claims"]).log.clear()
    asked = turn(mesh, "replies-member-3", "hi, what's the status of my claim", "M-3001")
    text = reply(asked)
    assert text.startswith("You have 2 claims: CL-9001 (under review, service on "), text
    assert "CL-9002 (paid, " in text and "Which one is it?" in text, text
    (listed,) = calls(mesh, "claims", "listMemberClaims")
    assert "/members/M-3001/claims" in listed.path and "provider_id" not in listed.query

    answered = turn(mesh, "replies-member-3", "the first one", "M-3001")
    text = reply(answered)
    assert text.startswith("Your claim CL-9001 (1,450.00 USD, service on "), text
    assert "is under review" in text and "not a guarantee of payment" in text, text
    (read,) = calls(mesh, "claims", "getClaim")
    assert read.query.get("member_id") == "M-3001" and "provider_id" not in read.query

    covered = turn(mesh, "replies-member-4", "what does my plan cover?", "M-3001")
    text = reply(covered)
    assert text.startswith("Switchboard Dental PPO Plus: preventive 100%"), text
    assert "provider id" not in text and "member's id" not in text, text


def test_a_dental_office_is_served_as_before_beside_members(mesh: Mesh) -> None:
    asked = turn(mesh, "replies-office-1", "what's the status of the claim?", "P-7001")
    assert reply(asked).startswith("Which claim is it?"), reply(asked)
    answered = turn(mesh, "replies-office-1", "CL-9001", "P-7001")
    text = reply(answered)
    assert text.startswith("Claim CL-9001 for member M-3001 (1,450.00 USD, service on "), text
    read = calls(mesh, "claims", "getClaim")[-1]
    assert read.query.get("provider_id") == "P-7001" and "member_id" not in read.query


def test_a_knowledge_answer_answers_the_question_asked(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["knowledge"]).log.clear()
    events = turn(mesh, "replies-kb-1", "can I bring my dog on the plane?", "C-1001")
    assert reply(events).startswith("Travelling with pets: "), reply(events)
    assert [m.title for m in media(events)] == ["Travelling with pets"]
    (search,) = calls(mesh, "knowledge", "searchArticles")
    assert search.query.get("q") == "can I bring my dog on the plane?"

    events = turn(mesh, "replies-kb-2", "can I bring my surfboard on the plane?", "C-1001")
    assert reply(events).startswith("I don't have an article on that"), reply(events)
    assert media(events) == []


def test_the_answer_to_who_are_you_searches_with_the_request_it_answers(mesh: Mesh) -> None:
    backend_of(mesh.mocks.apps["knowledge"]).log.clear()
    with cases_left_as_found(mesh):
        turn(mesh, "replies-compensation-1", "I want compensation for my cancelled flight", "")
        answered = turn(mesh, "replies-compensation-1", "C-1001", "")
        (search,) = calls(mesh, "knowledge", "searchArticles")
        # The request's words, not only "C-1001": the article found is about what was asked.
        assert search.query.get("q") == "I want compensation for my cancelled flight C-1001"
        # An anonymous chat has not proved the account is its caller's: no case, the policy's
        # words, and the rules meanwhile.
        text = reply(answered)
        assert text.startswith("I haven't opened a compensation case yet. Before I look at"), text
        assert "Meanwhile, here are the rules: When your flight is cancelled" in text, text
        assert finished(answered)["createCase"].outcome == common_pb2.STEP_OUTCOME_REJECTED


def test_a_boarding_pass_reply_shows_no_placeholder(mesh: Mesh) -> None:
    world = mesh.mocks.world
    trip = next(
        r
        for r in sorted(world.reservations.values(), key=lambda r: r.pnr)
        if r.status == "confirmed"
        and r.segments[0].status == "confirmed"
        and (flight := world.flight(r.segments[0].flight_number, r.segments[0].date))
        and flight.status not in ("cancelled", "departed", "landed")
        and timedelta(hours=1) < flight.scheduled_departure - world.now < timedelta(hours=47)
    )
    events = turn(
        mesh,
        "replies-pass-1",
        f"Can I get my boarding pass for reservation {trip.pnr}?",
        trip.customer_id,
    )
    issued = finished(events)["getBoardingPass"]
    assert issued.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, issued.error
    text = reply(events)
    flight = trip.segments[0].flight_number
    assert text.startswith(f"Here is your boarding pass for flight {flight} "), text
    (image,) = media(events)
    shown = f"{text} {image.title} {image.alt_text} {image.data}"
    assert "<PERSON" not in shown and "passenger_name" not in shown, shown


@pytest.mark.parametrize(
    ("text", "customer", "said"),
    [
        # 404: no reservation by that code
        ("Can I get my boarding pass for ZZZZ99?", "C-1001", "I couldn't find reservation ZZZZ99"),
        # 409: the flight is cancelled, so there is no boarding pass
        ("Can I get my boarding pass for K4M9TZ?", "C-1005", "is cancelled"),
    ],
)
def test_a_backends_answer_about_the_request_is_no_fallback(
    mesh: Mesh, text: str, customer: str, said: str
) -> None:
    # Not found, or not possible in the reservation's state: the reply says so, and the turn
    # does not count as a failure on the fallback ladder (two such answers in a row would
    # otherwise send the next unclear message straight to the safe flow).
    session = f"answer-not-failure-{customer}"
    events = turn(mesh, session, text, customer)
    statuses = [r.http_status for r in finished(events).values()]
    assert set(statuses) & {404, 409}, statuses
    assert said in reply(events), reply(events)
    assert not [e for e in events if e.WhichOneof("event") == "fallback"]
    assert session_of(mesh, session).fallbacks_in_a_row == 0
