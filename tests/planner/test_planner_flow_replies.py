"""What replies say: a refusal in the policy's words, the customer's own question searched, the
caller served as who they are, and never a masked placeholder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from harness import SHIPPED_INTENTS
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.plans import StepResult
from services.planner.servicer import result_from_proto
from services.planner.tools import ToolIndex
from switchboard.v1 import common_pb2

#: the airline pack's words for a change it refuses to an unverified customer
VERIFY = "Before I change anything on your booking or account, I need to verify your identity."
CONFIRM = "Before I go ahead, please confirm that you want me to do this."
#: stands in for a step's error text: never for the customer
DIAGNOSTIC = "policy airline/account-change-needs-verified-identity said BLOCK: internal 7f3a"


def _proto(
    outcome: common_pb2.StepOutcome.ValueType, *verdicts: tuple[Any, str, str]
) -> common_pb2.StepResult:
    return common_pb2.StepResult(
        step_id="cancel",
        tool="cancelReservation",
        outcome=outcome,
        error=DIAGNOSTIC,
        verdicts=[
            common_pb2.PolicyVerdict(
                stage=common_pb2.POLICY_STAGE_TOOL_CALL,
                action=action,
                rule_id=rule,
                reason="a change before the customer's identity is verified",
                message=message,
            )
            for action, rule, message in verdicts
        ],
    )


def test_a_refused_step_carries_the_refusing_rules_message_and_nothing_else() -> None:
    rejected = common_pb2.STEP_OUTCOME_REJECTED
    held = (common_pb2.POLICY_ACTION_CONFIRM, "base/contract-requires-confirmation", CONFIRM)
    blocked = (common_pb2.POLICY_ACTION_BLOCK, "airline/account-change", VERIFY)
    # Held for a confirmation and blocked: the block is the refusal, whatever the order.
    assert result_from_proto(_proto(rejected, held, blocked)).refusal == VERIFY
    assert result_from_proto(_proto(rejected, blocked, held)).refusal == VERIFY
    # ... and its rule is the refusing one.
    assert result_from_proto(_proto(rejected, held, blocked)).refused_by == "airline/account-change"
    handed = (common_pb2.POLICY_ACTION_HANDOFF, "sportsbook/limits", "A colleague does this.")
    assert result_from_proto(_proto(rejected, handed)).refusal == "A colleague does this."
    # A confirmation is asked for, not refused; a contract check has no words for the customer;
    # a backend's failure is no policy's refusal.
    assert result_from_proto(_proto(rejected, held)).refusal == ""
    assert result_from_proto(_proto(rejected, held)).refused_by == ""
    contract = (common_pb2.POLICY_ACTION_BLOCK, "contract/arguments", "")
    assert result_from_proto(_proto(rejected, contract)).refusal == ""
    assert result_from_proto(_proto(common_pb2.STEP_OUTCOME_FAILED)).refusal == ""
    # The audit text stays where it was, for the model's compose prompt and the trace.
    assert result_from_proto(_proto(common_pb2.STEP_OUTCOME_FAILED)).error == DIAGNOSTIC


#: (intent, slots, the step a policy refuses, results of the steps before it, the reply's start)
REFUSED: list[tuple[str, dict[str, str], str, dict[str, dict[str, Any]], str]] = [
    (
        "cancel_reservation",
        {"pnr": "DMJ5SB"},
        "cancel",
        {"fare": {}},
        "I haven't cancelled reservation DMJ5SB.",
    ),
    (
        "rebook_flight",
        {"customer_id": "C-5607", "new_flight": "UA891"},
        "rebook",
        {"trips": {"reservations": [{"pnr": "DMJ5SB", "segments": [{}], "passengers": [{}]}]}},
        "I haven't moved your trip onto UA891, so nothing has been changed.",
    ),
    (
        "seat_selection",
        {"customer_id": "C-5607", "pnr": "DMJ5SB", "seat": "12C"},
        "assign",
        {"trip": {"pnr": "DMJ5SB", "segments": [{"flight_number": "UA457"}]}},
        "I haven't assigned seat 12C, so your seat is unchanged.",
    ),
    (
        "deposit_limit",
        {"customer_id": "C-1002", "period": "weekly", "amount_cents": "20000"},
        "limit",
        {},
        "I haven't set that limit here, so your limits are unchanged.",
    ),
    (
        "claim_status",
        {"member": "M-3001", "claim_id": "CL-9001"},
        "claim",
        {},
        "",
    ),
    (
        "claim_status",
        {"member": "M-3001"},
        "claims",
        {},
        "",
    ),
    ("benefits_summary", {"member": "M-3001", "member_id": "M-3001"}, "benefits", {}, ""),
    (
        "eligibility_check",
        {
            "member": "M-3001",
            "member_id": "M-3001",
            "procedure_code": "D2740",
            "date_of_service": "2026-12-01",
        },
        "eligibility",
        {},
        "",
    ),
]


@pytest.mark.parametrize(
    ("intent", "slots", "refused", "before", "start"),
    REFUSED,
    ids=[f"{case[0]}-{case[2]}" for case in REFUSED],
)
def test_a_refused_change_says_why_in_the_policys_words(
    book: FlowBook,
    intent: str,
    slots: dict[str, str],
    refused: str,
    before: dict[str, dict[str, Any]],
    start: str,
) -> None:
    flow = book.get(intent)
    assert flow is not None
    results = [StepResult(i, "tool", "succeeded", result) for i, result in before.items()]
    for refusal in (VERIFY, ""):
        rejected = StepResult(refused, "tool", "rejected", {}, DIAGNOSTIC, 0, refusal=refusal)
        reply = flow.reply(flow.context(slots, [*results, rejected]))
        assert "7f3a" not in reply and "BLOCK" not in reply, reply
        if refusal:
            assert reply == f"{start} {VERIFY}".strip(), reply
        else:
            # Refused without words for the customer (a contract check): the flow's own.
            assert VERIFY not in reply and reply, reply


def test_a_read_a_policy_refuses_is_answered_in_its_words_not_as_a_system_down(
    book: FlowBook,
) -> None:
    # loyalty_balance has no words of its own for a refused read: its last reply, about a system
    # that could not be reached, gives way to the policy's.
    flow = book.get("loyalty_balance")
    assert flow is not None
    slots = {"customer_id": "C-1001"}
    prove = "Before I look at an account, I need to check that it's yours."
    refused = StepResult("loyalty", "getLoyaltyAccount", "rejected", {}, DIAGNOSTIC, refusal=prove)
    assert flow.reply(flow.context(slots, [refused])) == prove
    failed = StepResult("loyalty", "getLoyaltyAccount", "failed", {}, DIAGNOSTIC, 503)
    assert flow.reply(flow.context(slots, [failed])).startswith("I couldn't reach the loyalty")


def test_an_upgrade_a_policy_refuses_says_why_beside_the_rebooking(book: FlowBook) -> None:
    flow = book.get("rebook_flight")
    assert flow is not None
    slots = {"customer_id": "C-1001", "new_flight": "UA891", "upgrade": "upgrade"}
    balance = "That needs more miles than your balance has. Want me to look at other options?"
    results = [
        StepResult("rebook", "rebookReservation", "succeeded", {"reservation": {"pnr": "SBX7Q2"}}),
        StepResult("upgrade", "redeemMiles", "rejected", {}, DIAGNOSTIC, refusal=balance),
    ]
    reply = flow.reply(flow.context(slots, results))
    assert "Done: reservation SBX7Q2 is now on flight UA891" in reply
    assert f"I haven't redeemed the upgrade, so your miles are untouched. {balance}" in reply


def test_the_customers_words_are_the_query_without_placeholders_and_within_the_contract(
    book: FlowBook,
) -> None:
    flow = book.get("baggage_policy")
    assert flow is not None
    (search,) = flow.steps({}, "", "can I bring my dog <PERSON_1> on the plane?")
    # The broker restores a placeholder for the backends its contract allows: never here.
    assert search.arguments == {
        "q": "can I bring my dog on the plane?",
        "category": "baggage",
        "limit": 3,
    }
    # The contract takes at most 200 characters: cut between words.
    long = "please tell me " + "whether my rather large dog may travel " * 10
    (search,) = flow.steps({}, "", long)
    assert len(search.arguments["q"]) <= 200 and long.startswith(search.arguments["q"])
    assert not search.arguments["q"].endswith(" ") and long[len(search.arguments["q"])] == " "
    # Nothing of the customer's to search for: no query (the contract check refuses the call).
    (search,) = flow.steps({}, "", "<PERSON_1> <EMAIL_2>")
    assert "q" not in search.arguments
    compensation = book.get("compensation_claim")
    assert compensation is not None
    articles, _ = compensation.steps({"customer_id": "C-1001"}, "C-1001", "a voucher, please")
    assert articles.arguments["q"] == "a voucher, please"


def _results(score: float) -> list[StepResult]:
    found = {"title": "Checked baggage allowance", "summary": "One free bag.", "score": score}
    return [StepResult("articles", "searchArticles", "succeeded", {"results": [found]})]


@pytest.mark.parametrize(("score", "answered"), [(2.9, True), (2.75, True), (2.7, False)])
def test_an_article_is_the_answer_only_when_it_is_about_the_question(
    book: FlowBook, tools: ToolIndex, score: float, answered: bool
) -> None:
    flow = book.get("baggage_policy")
    assert flow is not None
    context = flow.context({}, _results(score))
    reply, media = flow.reply(context), flow.media(context, tools)
    if answered:
        assert reply == "Checked baggage allowance: One free bag." and len(media) == 1
    else:
        assert reply.startswith("I don't have an article on that") and media == [], reply
    case = StepResult("case", "createCase", "succeeded", {"case_id": "CS-1"})
    compensation = book.get("compensation_claim")
    assert compensation is not None
    reply = compensation.reply(compensation.context({}, [*_results(score), case]))
    assert reply.startswith("I've opened case CS-1") and ("Checked" in reply) == answered


def test_a_member_is_served_as_themself_and_an_office_as_before(book: FlowBook) -> None:
    claim = book.get("claim_status")
    assert claim is not None
    text = "hi, what's the status of my claim"
    member = claim.fill({}, text, "M-3001")
    assert member == {"member": "M-3001"} and claim.missing(member, "M-3001") == []
    claims, read = claim.steps(member, "M-3001")
    assert (claims.tool, claims.arguments) == ("listMemberClaims", {"member_id": "M-3001"})
    assert (read.tool, read.arguments) == (
        "getClaim",
        {"claim_id": "${steps.claims.claims.only.claim_id}", "member_id": "M-3001"},
    )
    # Who asks is the request's, never the message's: a member id typed is no member calling.
    for caller in ("C-1001", "P-7001", ""):
        typed = claim.fill({}, "where is the claim of M-3001?", caller)
        assert "member" not in typed, caller
    assert claim.fill({"member": "M-3001"}, text, "P-7001") == {"provider_id": "P-7001"}
    # An office names the claim and is asked for it otherwise, exactly as before.
    office = claim.fill({}, "where is claim CL-9001?", "P-7001")
    assert office == {"provider_id": "P-7001", "claim_id": "CL-9001"}
    (read,) = claim.steps(office, "P-7001")
    assert read.arguments == {"claim_id": "CL-9001", "provider_id": "P-7001"}
    assert claim.missing(claim.fill({}, text, "P-7001"), "P-7001") == ["claim_id"]
    assert claim.missing(claim.fill({}, "where is claim CL-9001?", ""), "") == ["provider_id"]

    benefits = book.get("benefits_summary")
    assert benefits is not None
    slots = benefits.fill({}, "what does my plan cover?", "M-3001")
    assert benefits.missing(slots, "M-3001") == []
    (read,) = benefits.steps(slots, "M-3001")
    assert read.arguments == {"member_id": "M-3001"}
    # A member's own id wins over one in the message.
    assert benefits.fill({}, "what does M-3002's plan cover?", "M-3001")["member_id"] == "M-3001"
    office = benefits.fill({}, "what does my plan cover?", "P-7001")
    assert benefits.missing(office, "P-7001") == ["member_id"]
    assert benefits.questions(["member_id"]) == "What is the member's id? It looks like M-1234."


def test_a_slot_of_the_caller_and_a_condition_on_slots_are_checked_at_load(
    load_errors: Callable[..., str],
) -> None:
    message = load_errors(
        """
industry: dental
flows:
  benefits_summary:
    slots:
      member: {from: caller, patterns: ['M-[0-9]{4,8}']}
      provider_id: {from: customer_id, question: 'Who?', required: not slots.office}
      member_id: {from: customer_id, question: 'Whom?', required: customer_id != ''}
    steps:
      - id: benefits
        tool: getBenefits
        arguments: {member_id: '${slots.member_id}', provider_id: '${slots.provider_id}'}
    replies:
      - {text: 'Done.'}
""",
        "callers.yaml",
    )
    assert "slot member: a slot from the caller is never asked: required: false" in message
    assert "slot provider_id: required: 'not slots.office' reads unknown slot 'office'" in message
    assert "slot member_id: required: \"customer_id != ''\" reads 'customer_id'" in message


def _person_fields() -> set[str]:
    return {name.casefold() for name in load_settings().pii.person_fields}


def _reads(source: str | None, *, expression: bool = False) -> set[str]:
    """The names a template reads as attributes, items or quoted strings (``map(attribute=..)``)."""
    if not source:
        return set()
    tree = SandboxedEnvironment().parse("{{ " + source + " }}" if expression else source)
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Const)):
        if isinstance(node, nodes.Getattr):
            found.add(node.attr)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            found.add(node.value)
    return {name.casefold() for name in found}


@pytest.mark.parametrize("industry", sorted(SHIPPED_INTENTS))
def test_no_reply_or_media_shows_a_persons_name(book: FlowBook, industry: str) -> None:
    # Tool results reach the planner masked: a person's name is a placeholder ("<PERSON_5>") that
    # means nothing to the customer. The pii service names the fields that hold one.
    person = _person_fields()
    shown: list[str] = []
    for intent in SHIPPED_INTENTS[industry]:
        flow = book.get(intent)
        assert flow is not None
        spec = flow.spec
        templates = [(r.text, False) for r in spec.replies]
        templates += [(r.when, True) for r in spec.replies]
        templates += [(s.ask_again, False) for s in spec.slots.values()]
        templates += [(spec.confirm, False)]
        for media in spec.media:
            templates += [(media.title, False), (media.uri, False), (media.alt_text, False)]
            shown += [f"{intent}: media fields: {f}" for f in media.fields or [] if f in person]
        for source, expression in templates:
            read = _reads(source, expression=expression) & person
            shown += [f"{intent}: {source!r} reads {sorted(read)}"] if read else []
    assert shown == []


def test_a_boarding_pass_is_the_customers_without_their_masked_name(
    book: FlowBook, tools: ToolIndex
) -> None:
    flow = book.get("boarding_pass")
    assert flow is not None
    issued = {
        "pnr": "DMJ5SB",
        "passenger_name": "<PERSON_5>",
        "flight_number": "UA457",
        "origin": "ORD",
        "destination": "SFO",
        "boarding_group": "3",
        "seat": "14A",
        "image": "data:image/svg+xml;base64,AAAA",
    }
    results = [StepResult("pass", "getBoardingPass", "succeeded", issued)]
    context = flow.context({"pnr": "DMJ5SB"}, results)
    reply = flow.reply(context)
    assert reply == (
        "Here is your boarding pass for flight UA457 from ORD to SFO, boarding group 3, seat 14A."
    )
    (image,) = flow.media(context, tools)
    assert "<PERSON" not in f"{image.title} {image.alt_text} {image.data}", image
