"""What the customer is asked to confirm: the planner words the steps a policy held.

The router asks "I'm about to <this>. Reply yes to go ahead" with the phrase Compose gives when
``awaiting_confirmation`` is set: the flow's own ``confirm`` (which reservation, which flight), or
the waiting steps' descriptions for a flow without one and for a model's plan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.planner import ComposeInput, PlanInput, Planner
from services.planner.plans import Plan, StepResult
from services.planner.tools import ToolIndex

TRIP = {
    "pnr": "SBX7Q2",
    "status": "confirmed",
    "segments": [
        {
            "segment_id": "S1",
            "flight_number": "UA123",
            "date": "2026-11-26",
            "origin": "ORD",
            "destination": "SFO",
            "cabin": "economy",
        }
    ],
    "passengers": [{"passenger_id": "P1"}],
}


@pytest.fixture(scope="module")
def planner(tools: ToolIndex) -> Planner:
    settings = load_settings()
    return Planner(settings.planner, FlowBook.load(settings.planner.flows_dir, tools), tools, None)


def plan_of(planner: Planner, request: PlanInput) -> Plan:
    async def run() -> Plan:
        items = [item async for item in planner.plan(request)]
        assert isinstance(items[-1], Plan)
        return items[-1]

    return asyncio.run(run())


def held_actions(planner: Planner, plan: Plan, results: list[StepResult]) -> str:
    async def run() -> list[object]:
        request = ComposeInput(plan=plan, results=results, awaiting_confirmation=True)
        return [item async for item in planner.compose(request)]

    items = asyncio.run(run())
    return "".join(item for item in items if isinstance(item, str))


def outcomes(plan: Plan, **by_step: str) -> list[StepResult]:
    """Every step of the plan: those named end as given, the rest were skipped behind them."""
    results = []
    for step in plan.steps:
        outcome = by_step.get(step.id, "skipped")
        payload = {"reservations": [TRIP]} if step.id == "trips" else TRIP
        results.append(
            StepResult(step.id, step.tool, outcome, payload if outcome == "succeeded" else {})
        )
    return results


def test_a_held_rebooking_is_described_by_its_trip_and_flights(planner: Planner) -> None:
    plan = plan_of(
        planner,
        PlanInput(intent="rebook_flight", text="book UA891 please", customer_id="C-1001"),
    )
    results = outcomes(plan, trips="succeeded", trip="succeeded", rebook="rejected")
    # The held step's own date names the day, not the trip's: a flight offered for the next day
    # (no seats left on the trip's) is booked on that day.
    results = [
        replace(r, arguments={"flight_number": "UA891", "date": "2026-11-27"})
        if r.step_id == "rebook"
        else r
        for r in results
    ]
    assert held_actions(planner, plan, results) == (
        "move reservation SBX7Q2 from flight UA123 onto flight UA891 on Fri 27 Nov, then issue "
        "your new boarding pass and note the change on your account"
    )


def test_a_held_cancellation_names_the_booking_and_what_its_fare_gives_back(
    planner: Planner,
) -> None:
    plan = plan_of(
        planner,
        PlanInput(intent="cancel_reservation", text="cancel SBX7Q2", customer_id="C-1001"),
    )
    fare = {"pnr": "SBX7Q2", "fare_family": "basic", "refundable": False, "waiver": None}
    results = [
        replace(r, result=fare) if r.step_id == "fare" else r
        for r in outcomes(plan, fare="succeeded", cancel="rejected")
    ]
    assert held_actions(planner, plan, results) == (
        "cancel reservation SBX7Q2 (basic fare, not refundable)"
    )
    waived = {**fare, "waiver": "UA123 on 2026-11-26 was cancelled by the airline"}
    results = [replace(r, result=waived) if r.step_id == "fare" else r for r in results]
    assert held_actions(planner, plan, results) == (
        "cancel reservation SBX7Q2 (basic fare, refundable to your original payment)"
    )


def test_a_flow_without_its_own_words_lists_the_waiting_steps(
    tmp_path: Path, tools: ToolIndex
) -> None:
    (tmp_path / "airline.yaml").write_text(
        """
industry: airline
flows:
  cancel_reservation:
    slots:
      pnr: {patterns: ['\\b([A-Z0-9]{6})\\b'], question: 'Which reservation?'}
    steps:
      - {id: fare, tool: getFareRules, arguments: {pnr: '${slots.pnr}'}}
      - id: cancel
        tool: cancelReservation
        arguments: {pnr: '${slots.pnr}', reason: customer_request}
        depends_on: [fare]
        description: Cancel the reservation.
    replies: [{text: 'Done.'}]
""",
        encoding="utf-8",
    )
    bare = Planner(load_settings().planner, FlowBook.load(tmp_path, tools), tools, None)
    plan = plan_of(
        bare, PlanInput(intent="cancel_reservation", text="cancel SBX7Q2", customer_id="C-1001")
    )
    results = outcomes(plan, fare="succeeded", cancel="rejected")
    assert held_actions(bare, plan, results) == "do this: cancel the reservation"


def test_a_models_plan_is_described_by_its_steps(planner: Planner) -> None:
    plan = plan_of(
        planner,
        PlanInput(intent="cancel_reservation", text="cancel SBX7Q2", customer_id="C-1001"),
    )
    plan = replace(plan, tier="fast")
    results = outcomes(plan, fare="succeeded", cancel="rejected")
    assert held_actions(planner, plan, results) == "do this: cancel the reservation"


def test_a_confirm_phrase_that_quotes_an_error_does_not_load(
    load_errors: Callable[..., str],
) -> None:
    message = load_errors(
        """
industry: airline
flows:
  cancel_reservation:
    slots:
      pnr:
        patterns: ['([A-Z0-9]{6})']
        question: What is the reservation code?
    steps:
      - id: cancel
        tool: cancelReservation
        arguments: {pnr: '${slots.pnr}', reason: customer_request}
    confirm: 'cancel {{ slots.pnr }} ({{ steps.cancel.error }})'
    replies:
      - text: Done.
""",
        "airline.yaml",
    )
    assert "cancel_reservation: confirm: a reply quotes a step's `error`" in message
