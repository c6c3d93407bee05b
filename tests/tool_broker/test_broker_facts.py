"""Session facts read by a plan's earlier steps, as the policy checks of its later steps see them.

The real broker, the real governance service with the shipped packs, and the real payments and
CRM mocks: listCharges tells the refund rule what each charge still has to refund, and
getLoyaltyAccount tells the miles rule the balance (``x-switchboard.facts`` in their contracts).
Only pii is a stand-in. Nothing here is refunded or redeemed: every call a rule does not block is
held for the customer's confirmation, so the mocks' state is what other tests expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from broker_support import StandInGovernance, StandInPii, StandIns
from harness import LoopThread, start_service

from mocks.common.app import backend_of
from mocks.config import MocksSettings
from mocks.server import MockCluster, start_mocks
from services.catalogue import Catalogue
from services.config import load_settings
from services.governance.service import build as build_governance
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import ConfigError
from services.tool_broker.config import MOCKS_DIR, Backend
from services.tool_broker.service import build as build_broker
from switchboard.v1 import common_pb2, tool_broker_pb2, tool_broker_pb2_grpc

Outcome = common_pb2.StepOutcome
REFUND_RULE = "airline/refund-above-original-charge"
MILES_RULE = "airline/miles-within-balance"
CONFIRM_RULE = "base/contract-requires-confirmation"
#: what the router says of C-1001 (verified, nothing confirmed yet)
VERIFIED = {"identity_verified": True, "customer_id": "C-1001", "confirmed": False}
#: C-1001's fare for SBX7Q2 (mocks/world/demo.py), all of it still refundable
FARE_CENTS = 38_900
#: C-1001's miles balance
MILES = 84_000


@pytest.fixture(scope="module")
def mocks(loop_thread: LoopThread) -> Iterator[MockCluster]:
    settings = MocksSettings(ports={"payments": 0, "crm": 0}, customers=50, members=10)
    cluster = loop_thread.run(start_mocks(settings, ["payments", "crm"]))
    yield cluster
    loop_thread.run(cluster.stop())


@pytest.fixture(scope="module")
def broker(
    loop_thread: LoopThread, mocks: MockCluster
) -> Iterator[tool_broker_pb2_grpc.ToolBrokerServiceStub]:
    pii = start_service(loop_thread, StandIns(StandInGovernance(), StandInPii({})))
    backends = {
        name: {"openapi": str(MOCKS_DIR / name / "openapi.yaml"), "base_url": url}
        for name, url in mocks.base_urls.items()
    }
    governance = start_service(
        loop_thread, build_governance(load_settings(tool_broker={"backends": backends}))
    )
    settings = load_settings(
        tool_broker={"backends": backends},
        governance={"address": governance.target},
        pii={"address": pii.target},
    )
    server = start_service(loop_thread, build_broker(settings))
    channel = grpc.insecure_channel(server.target)
    yield tool_broker_pb2_grpc.ToolBrokerServiceStub(channel)
    channel.close()
    for running in (server, governance, pii):
        loop_thread.run(running.stop())


def _step(step_id: str, tool: str, *needs: str, **arguments: Any) -> common_pb2.PlanStep:
    return common_pb2.PlanStep(
        id=step_id, tool=tool, arguments=dict_to_struct(arguments), depends_on=list(needs)
    )


def _run(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub,
    plan_id: str,
    steps: list[common_pb2.PlanStep],
    session: dict[str, Any],
) -> dict[str, common_pb2.StepResult]:
    request = tool_broker_pb2.ExecutePlanRequest(
        session_id="facts-" + plan_id,
        turn_id="t1",
        plan=common_pb2.Plan(id=plan_id, steps=steps),
        session=dict_to_struct(session),
    )
    events = broker.ExecutePlan(request, timeout=20)
    return {
        e.step_finished.result.step_id: e.step_finished.result
        for e in events
        if e.WhichOneof("item") == "step_finished"
    }


def _rules(result: common_pb2.StepResult) -> dict[str, int]:
    return {v.rule_id: v.action for v in result.verdicts}


def _charges() -> common_pb2.PlanStep:
    return _step("charges", "listCharges", customer_id="C-1001", reference="SBX7Q2")


def _refund(amount_cents: int, *needs: str, charge_id: str = "") -> common_pb2.PlanStep:
    return _step(
        "refund",
        "createRefund",
        *needs,
        charge_id=charge_id or "${steps.charges.charges.0.charge_id}",
        amount_cents=amount_cents,
        reason="flight_cancelled",
    )


def _refunds_sent(mocks: MockCluster) -> list[Any]:
    log = backend_of(mocks.apps["payments"]).log.records()
    return [r for r in log if r.operation_id == "createRefund"]


def _charge_id(broker: tool_broker_pb2_grpc.ToolBrokerServiceStub) -> str:
    listed = _run(broker, "read", [_charges()], VERIFIED)["charges"]
    assert listed.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, listed.error
    charges = struct_to_dict(listed.result)["charges"]
    assert [c["refundable_cents"] for c in charges] == [FARE_CENTS]
    return str(charges[0]["charge_id"])


def test_the_refund_rule_holds_a_refund_to_what_the_plan_listed(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    results = _run(broker, "within", [_charges(), _refund(FARE_CENTS)], VERIFIED)
    within = results["refund"]
    assert results["charges"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    # Not blocked: only held for the customer's word, as the contract's confirm asks.
    assert within.outcome == Outcome.STEP_OUTCOME_REJECTED
    assert _rules(within) == {CONFIRM_RULE: common_pb2.POLICY_ACTION_CONFIRM}, within.error
    above = _run(broker, "above", [_charges(), _refund(FARE_CENTS + 1)], VERIFIED)["refund"]
    assert above.outcome == Outcome.STEP_OUTCOME_REJECTED
    assert _rules(above)[REFUND_RULE] == common_pb2.POLICY_ACTION_BLOCK, above.error
    assert not _refunds_sent(mocks)


def test_a_refund_of_a_charge_no_earlier_step_read_is_blocked(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    charge_id = _charge_id(broker)
    alone = _run(broker, "alone", [_refund(100, charge_id=charge_id)], VERIFIED)["refund"]
    assert _rules(alone)[REFUND_RULE] == common_pb2.POLICY_ACTION_BLOCK, alone.error
    # The listing runs beside the refund, not before it: whether it would finish first is a
    # matter of timing, so the refund's check never sees what it read.
    beside = _run(broker, "beside", [_charges(), _refund(100, charge_id=charge_id)], VERIFIED)
    assert beside["charges"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    assert _rules(beside["refund"])[REFUND_RULE] == common_pb2.POLICY_ACTION_BLOCK
    # Waiting for it, through another step, it does.
    through = _run(
        broker,
        "through",
        [
            _charges(),
            _step("cards", "listPaymentMethods", "charges", customer_id="C-1001"),
            _refund(100, "cards", charge_id=charge_id),
        ],
        VERIFIED,
    )
    assert REFUND_RULE not in _rules(through["refund"]), through["refund"].error
    assert not _refunds_sent(mocks)


def test_what_the_plan_read_wins_over_what_the_router_sent(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    charge_id = _charge_id(broker)
    stale = {**VERIFIED, "charges": {charge_id: 10_000_000, "ch_99999": 5_000}}
    fresher = _run(broker, "stale", [_charges(), _refund(FARE_CENTS * 2)], stale)["refund"]
    assert _rules(fresher)[REFUND_RULE] == common_pb2.POLICY_ACTION_BLOCK, fresher.error
    # A charge the plan did not read keeps what the router said of it.
    other = _run(
        broker,
        "other",
        [_charges(), _refund(5_000, "charges", charge_id="ch_99999")],
        stale,
    )["refund"]
    assert REFUND_RULE not in _rules(other), other.error
    assert not _refunds_sent(mocks)


def _redeem(miles: int) -> common_pb2.PlanStep:
    return _step(
        "redeem",
        "redeemMiles",
        "loyalty",
        customer_id="C-1001",
        kind="lounge_pass",
        miles=miles,
    )


def test_a_redemption_above_the_balance_the_plan_read_is_blocked(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    loyalty = _step("loyalty", "getLoyaltyAccount", customer_id="C-1001")
    above = _run(broker, "miles-above", [loyalty, _redeem(MILES + 1)], VERIFIED)
    assert above["loyalty"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    assert _rules(above["redeem"])[MILES_RULE] == common_pb2.POLICY_ACTION_BLOCK
    within = _run(broker, "miles-within", [loyalty, _redeem(MILES)], VERIFIED)["redeem"]
    assert _rules(within) == {CONFIRM_RULE: common_pb2.POLICY_ACTION_CONFIRM}, within.error
    log = backend_of(mocks.apps["crm"]).log.records()
    assert not [r for r in log if r.operation_id == "redeemMiles"]


# The declarations themselves: checked when the catalogue loads.

_CHARGE = {
    "type": "object",
    "properties": {
        "charge_id": {"type": "string", "pattern": "^ch_[0-9]+$"},
        "holder": {"type": "string"},
        "refundable_cents": {"type": "integer"},
        "note": {"type": "string"},
    },
}


def _document(facts: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"charges": {"type": "array", "items": _CHARGE}}}
    operation = {
        "operationId": "listThings",
        "summary": "Charges.",
        "x-switchboard": {"facts": facts},
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": schema}}}
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things": {"get": operation}},
    }


def _load(tmp_path: Path, facts: Any) -> Catalogue:
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(_document(facts)), encoding="utf-8")
    return Catalogue.load({"shop": Backend(openapi=path, base_url="http://127.0.0.1:1")})


def test_a_declared_fact_is_read_from_the_result(tmp_path: Path) -> None:
    catalogue = _load(
        tmp_path, {"charges": {"items": "charges", "key": "charge_id", "value": "refundable_cents"}}
    )
    result = {
        "charges": [
            {"charge_id": "ch_1", "refundable_cents": 500, "holder": "<PERSON_1>"},
            {"charge_id": "ch_2", "refundable_cents": 0},
            {"charge_id": "ch_3"},
        ]
    }
    assert catalogue.facts("listThings", result) == {"charges": {"ch_1": 500, "ch_2": 0}}
    assert catalogue.facts("unknownTool", result) == {}


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (
            {"charges": {"items": "charges", "key": "charge_id", "value": "note"}},
            "value 'note' must be typed integer or number",
        ),
        (
            {"charges": {"items": "charges", "key": "holder", "value": "refundable_cents"}},
            "key 'holder' must be a string with a pattern",
        ),
        (
            {"charges": {"items": "charges", "value": "refundable_cents"}},
            "'items' needs 'key'",
        ),
        (
            {"charges": {"items": "charges", "key": "charge_id", "value": "cents"}},
            "'cents' is not in the schema",
        ),
        ({"charges": {"key": "charge_id"}}, "needs 'value'"),
        ({"charges": {"value": "x", "from": "y"}}, "unknown keys ['from']"),
        ({"confirmed": {"value": "x"}}, "'confirmed' is a fact the runtime owns"),
        ([], "must be a mapping"),
    ],
)
def test_a_bad_declaration_fails_the_load_with_the_file_and_the_reason(
    tmp_path: Path, facts: Any, reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, facts)
    message = str(raised.value)
    assert message.startswith(str(tmp_path / "shop.yaml")), message
    assert "listThings" in message and reason in message, message
