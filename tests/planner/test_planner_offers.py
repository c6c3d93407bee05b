"""A reply that offers to make a request next ("I can look for another flight for you") says
which (``offer('rebook_flight')``), so that a plain yes on the next turn takes it up; the name is
checked at load, and Compose hands back every request the reply offered, in its order (the
router takes up a single one on a yes, and asks which of two or more)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.planner import ComposeInput, Planner
from services.planner.plans import Offer, Plan, Step, StepResult
from services.planner.tools import ToolIndex
from services.runtime.errors import ConfigError

_FLOWS = """
industry: airline
flows:
  flight_status:
    slots:
      flight_number: {patterns: ['\\b([A-Z]{2}[0-9]{1,4})\\b'], question: 'Which flight?'}
    steps:
      - id: status
        tool: getFlightStatus
        arguments: {flight_number: '${slots.flight_number}', date: '2026-11-26'}
    replies:
      - when: steps.status.ok and steps.status.result.status == 'cancelled'
        text: >
          It is cancelled. I can look for another flight for you.{{ offer('rebook_flight') }}
      - when: steps.status.ok and steps.status.result.status == 'diverted'
        text: >
          It was diverted. Rebook{{ offer('rebook_flight') }} or refund{{ offer('refund_request',
          'refund me') }}? Rebook{{ offer('rebook_flight', 'again') }}?
      - text: It is {{ steps.status.result.status }}.
  rebook_flight:
    replies: [{text: 'Which flight?'}]
  refund_request:
    replies: [{text: 'Which charge?'}]
"""


def _book(folder: Path, tools: ToolIndex, text: str = _FLOWS) -> FlowBook:
    (folder / "airline.yaml").write_text(text, encoding="utf-8")
    return FlowBook.load(folder, tools)


def test_a_reply_records_the_request_it_offers(tmp_path: Path, tools: ToolIndex) -> None:
    flow = _book(tmp_path, tools).get("flight_status")
    assert flow is not None and flow.offers() == {"rebook_flight", "refund_request"}
    offers: list[Offer] = []
    context = {"steps": {"status": {"ok": True, "result": {"status": "cancelled"}}}}
    text = flow.reply(context, offers)
    assert text == "It is cancelled. I can look for another flight for you."
    assert offers == [Offer("rebook_flight")]
    on_time = {"steps": {"status": {"ok": True, "result": {"status": "on_time"}}}}
    assert flow.reply(on_time, offers) == "It is on_time." and offers == [Offer("rebook_flight")]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("cancelled", [Offer("rebook_flight")]),
        # Each request once, as first offered, in the reply's order.
        ("diverted", [Offer("rebook_flight"), Offer("refund_request", "refund me")]),
        ("on_time", []),
    ],
)
def test_compose_hands_back_the_offers_in_the_reply_s_order(
    tmp_path: Path, tools: ToolIndex, status: str, expected: list[Offer]
) -> None:
    planner = Planner(load_settings().planner, _book(tmp_path, tools), tools, None)
    step = Step("status", "getFlightStatus", {"flight_number": "UA123", "date": "2026-11-26"})
    plan = Plan(steps=[step], flow="flight_status", tier="embedded", slots={})
    result = StepResult(
        step_id="status", tool="getFlightStatus", outcome="succeeded", result={"status": status}
    )

    async def compose() -> list[object]:
        return [i async for i in planner.compose(ComposeInput(plan=plan, results=[result]))]

    items = asyncio.run(compose())
    assert [i for i in items if isinstance(i, Offer)] == expected


def test_an_offer_names_a_flow_written_out(tmp_path: Path, tools: ToolIndex) -> None:
    misspelt = _FLOWS.replace("offer('refund_request',", "offer('refund_reqest',")
    assert misspelt != _FLOWS
    with pytest.raises(ConfigError) as raised:
        _book(tmp_path, tools, misspelt)
    assert "flow flight_status: offers 'refund_reqest', which no flow serves" in (
        raised.value.message
    )
    computed = _FLOWS.replace("{{ offer('rebook_flight') }}", "{{ offer(slots.next) }}")
    with pytest.raises(ConfigError) as raised:
        _book(tmp_path, tools, computed)
    assert "offer() takes one intent's name as a quoted string" in raised.value.message
    said = _FLOWS.replace(
        "offer('refund_request',\n          'refund me')", "offer('refund_request', slots.say)"
    )
    assert said != _FLOWS
    with pytest.raises(ConfigError) as raised:
        _book(tmp_path, tools, said)
    assert "optionally what to say for it" in raised.value.message


_RESUMING = """
industry: general
flows:
  verify_identity:
    replies:
      - text: >
          Thank you.{% if resumable %} Shall I go on?{{ offer(resumable) }}{% endif %}
  loyalty_balance:
    replies: [{text: 'Your balance.'}]
"""


@pytest.mark.parametrize(
    ("resumable", "text", "expected"),
    [
        ("loyalty_balance", "Thank you. Shall I go on?", [Offer("loyalty_balance")]),
        ("", "Thank you.", []),
    ],
)
def test_the_request_refused_until_a_proof_may_be_offered_by_name(
    tmp_path: Path, tools: ToolIndex, resumable: str, text: str, expected: list[Offer]
) -> None:
    """``offer(resumable)``: the one name offer() takes unwritten, the request the router names
    on the turn whose proof succeeded."""
    planner = Planner(load_settings().planner, _book(tmp_path, tools, _RESUMING), tools, None)
    plan = Plan(steps=[], flow="verify_identity", tier="embedded", slots={})

    async def compose() -> list[object]:
        request = ComposeInput(plan=plan, results=[], resumable=resumable)
        return [i async for i in planner.compose(request)]

    items = asyncio.run(compose())
    assert [i for i in items if isinstance(i, str)][0] == text
    assert [i for i in items if isinstance(i, Offer)] == expected
