"""Payments under retries and races: whatever is retried or raced, no charge or refund happens
twice. Calls go through the real tool-broker (with real governance and pii); the payments mock's
own state and request log are the judge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
import pytest
from reliability_support import clear_faults, requests_of, set_faults

from services.mesh import Mesh
from services.runtime.convert import dict_to_struct, struct_to_dict
from switchboard.v1 import common_pb2, tool_broker_pb2, tool_broker_pb2_grpc

CUSTOMER = "C-1001"
#: the facts governance needs before it lets a payment mutation through
FACTS: dict[str, Any] = {"identity_verified": True, "confirmed": True, "customer_id": CUSTOMER}


@pytest.fixture
def payments(mesh: Mesh) -> Iterator[str]:
    """The payments mock's base URL; its faults are cleared afterwards whatever happens."""
    url: str = mesh.mocks.base_urls["payments"]
    try:
        yield url
    finally:
        clear_faults({"payments": url})


@pytest.fixture
def broker(mesh: Mesh) -> Iterator[tool_broker_pb2_grpc.ToolBrokerServiceStub]:
    with grpc.insecure_channel(mesh.target("tool_broker")) as channel:
        yield tool_broker_pb2_grpc.ToolBrokerServiceStub(channel)


def _card(payments: str) -> str:
    with httpx.Client(timeout=10) as client:
        reply = client.get(f"{payments}/customers/{CUSTOMER}/payment-methods")
    reply.raise_for_status()
    return str(
        next(m for m in reply.json()["payment_methods"] if m["status"] == "active")[
            "payment_method_id"
        ]
    )


def _charges(payments: str, reference: str) -> list[dict[str, Any]]:
    """The customer's charges for ``reference``, from the payments backend's own state."""
    with httpx.Client(timeout=10) as client:
        reply = client.get(
            f"{payments}/customers/{CUSTOMER}/charges", params={"reference": reference}
        )
    reply.raise_for_status()
    charges: list[dict[str, Any]] = reply.json()["charges"]
    return charges


def _charge_step(card: str, reference: str, step_id: str = "fee") -> common_pb2.PlanStep:
    arguments = {
        "customer_id": CUSTOMER,
        "payment_method_id": card,
        "amount_cents": 4200,
        "currency": "USD",
        "description": "reliability test fee",
        "reference": reference,
    }
    return common_pb2.PlanStep(id=step_id, tool="createCharge", arguments=dict_to_struct(arguments))


def _execute(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub,
    step: common_pb2.PlanStep,
    turn_id: str,
    facts: dict[str, Any] | None = None,
    session_id: str = "pay-1",
) -> common_pb2.StepResult:
    request = tool_broker_pb2.ExecuteToolRequest(
        session_id=session_id,
        turn_id=turn_id,
        step=step,
        session=dict_to_struct(facts or FACTS),
    )
    result: common_pb2.StepResult = broker.ExecuteTool(request, timeout=30).result
    return result


def _reference() -> str:
    return "REL-" + uuid.uuid4().hex[:12].upper()


def _lose_replies(payments: str, operation: str, count: int) -> None:
    """The next ``count`` calls of ``operation`` take effect, then their reply is lost."""
    spec = {"timeout_rate": 1.0, "timeout_phase": "after", "timeout_s": 0.3, "limit": count}
    set_faults({"payments": payments}, {"operations": {operation: spec}})


def test_a_charge_whose_replies_are_lost_is_made_once(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, payments: str
) -> None:
    reference, card = _reference(), _card(payments)
    _lose_replies(payments, "createCharge", 2)
    result = _execute(broker, _charge_step(card, reference), "lost-replies")

    assert result.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, result.error
    assert result.attempts == 3
    attempts = [
        r for r in requests_of(payments, "createCharge") if r["body"]["reference"] == reference
    ]
    assert [r["fault"] for r in attempts] == ["timeout", "timeout", None]
    assert len({r["idempotency_key"] for r in attempts}) == 1
    (charge,) = _charges(payments, reference)
    assert charge["charge_id"] == struct_to_dict(result.result)["charge_id"]


def test_a_repeated_call_of_the_same_step_replays_the_charge(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, payments: str
) -> None:
    # The caller retries the whole call (its reply was lost upstream of the broker).
    reference, card = _reference(), _card(payments)
    first = _execute(broker, _charge_step(card, reference), "repeat")
    second = _execute(broker, _charge_step(card, reference), "repeat")

    for result in (first, second):
        assert result.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, result.error
    assert struct_to_dict(first.result)["charge_id"] == struct_to_dict(second.result)["charge_id"]
    assert len(_charges(payments, reference)) == 1


def test_racing_copies_of_one_charge_make_one_charge(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, payments: str
) -> None:
    reference, card = _reference(), _card(payments)
    step = _charge_step(card, reference)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: _execute(broker, step, "race"), range(8)))

    ids = {struct_to_dict(r.result).get("charge_id") for r in results if r.result.fields}
    assert all(r.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED for r in results), [
        (r.outcome, r.error) for r in results
    ]
    assert len(ids) == 1, ids
    assert len(_charges(payments, reference)) == 1


def test_a_plan_whose_charge_reply_is_lost_charges_once(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, payments: str
) -> None:
    reference, card = _reference(), _card(payments)
    _lose_replies(payments, "createCharge", 1)
    plan = common_pb2.Plan(
        id="fee-plan",
        steps=[
            common_pb2.PlanStep(
                id="cards",
                tool="listPaymentMethods",
                arguments=dict_to_struct({"customer_id": CUSTOMER}),
            ),
            _charge_step(card, reference, step_id="fee"),
        ],
    )
    plan.steps[1].depends_on.append("cards")
    request = tool_broker_pb2.ExecutePlanRequest(
        session_id="pay-plan", turn_id="plan-1", plan=plan, session=dict_to_struct(FACTS)
    )
    # The plan is sent twice, as a router retrying the whole stage would.
    finished = []
    for _ in range(2):
        finished += [
            r.step_finished.result
            for r in broker.ExecutePlan(request, timeout=30)
            if r.WhichOneof("item") == "step_finished"
        ]
    fees = [r for r in finished if r.step_id == "fee"]
    assert [r.outcome for r in fees] == [common_pb2.STEP_OUTCOME_SUCCEEDED] * 2, fees
    assert len(_charges(payments, reference)) == 1


def test_refunds_under_lost_replies_and_races_never_exceed_the_charge(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, payments: str
) -> None:
    reference, card = _reference(), _card(payments)
    charge = struct_to_dict(_execute(broker, _charge_step(card, reference), "refund-setup").result)
    charge_id, amount = str(charge["charge_id"]), int(charge["amount_cents"])
    facts = {**FACTS, "charges": {charge_id: amount}}
    refund = common_pb2.PlanStep(
        id="refund",
        tool="createRefund",
        arguments=dict_to_struct(
            {"charge_id": charge_id, "amount_cents": amount, "reason": "customer_request"}
        ),
    )
    _lose_replies(payments, "createRefund", 1)
    # Eight copies of the same refund step (one idempotency key) and eight refunds of the
    # whole amount from different turns (different keys), all at once.
    turns = ["same"] * 8 + [f"other-{i}" for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: _execute(broker, refund, t, facts), turns))

    (after,) = _charges(payments, reference)
    assert after["refunded_cents"] == amount, after
    assert len(after["refunds"]) == 1, after["refunds"]
    succeeded = [r for r in results if r.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED]
    assert succeeded, [(r.outcome, r.error) for r in results]
    made = [r for r in requests_of(payments, "createRefund") if f"/{charge_id}/" in r["path"]]
    assert sum(1 for r in made if r["status"] == 201 and r["fault"] is None) >= 1
