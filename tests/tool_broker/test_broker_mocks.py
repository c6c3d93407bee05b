"""The tool-broker against the real mocks: the first end-to-end tool, the C-1001 scenario's
reads fetched concurrently (shown by the booking mock's own request log), and a change fee
charged exactly once although the payments mock loses the first reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from broker_support import StandInGovernance, StandInPii, StandIns
from harness import LoopThread, start_service

from mocks.common.app import backend_of
from mocks.config import MocksSettings
from mocks.server import MockCluster, start_mocks
from services.config import load_settings
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.tool_broker.config import MOCKS_DIR
from services.tool_broker.service import build
from switchboard.v1 import common_pb2, tool_broker_pb2, tool_broker_pb2_grpc

Outcome = common_pb2.StepOutcome
LATENCY_MS = 150


@pytest.fixture(scope="module")
def mocks(loop_thread: LoopThread) -> Iterator[MockCluster]:
    settings = MocksSettings(
        ports={"booking": 0, "payments": 0},
        customers=50,
        members=10,
        faults={
            # Constant latency, so requests that run together are certainly in flight together.
            "booking": {
                "default": {"latency": {"distribution": "constant", "mean_ms": LATENCY_MS}}
            },
            # The first charge takes effect, then its reply is lost (the request hangs).
            "payments": {
                "operations": {
                    "createCharge": {
                        "timeout_rate": 1.0,
                        "timeout_phase": "after",
                        "timeout_s": 1.0,
                        "limit": 1,
                    }
                }
            },
        },
    )
    cluster = loop_thread.run(start_mocks(settings, ["booking", "payments"]))
    yield cluster
    loop_thread.run(cluster.stop())


@pytest.fixture(scope="module")
def broker(
    loop_thread: LoopThread, mocks: MockCluster
) -> Iterator[tool_broker_pb2_grpc.ToolBrokerServiceStub]:
    peers = start_service(loop_thread, StandIns(StandInGovernance(), StandInPii({})))
    settings = load_settings(
        tool_broker={
            "backends": {
                name: {"openapi": str(MOCKS_DIR / name / "openapi.yaml"), "base_url": url}
                for name, url in mocks.base_urls.items()
            },
            "call_timeout_s": 0.5,
            "retry": {"base_backoff_s": 0.01, "max_backoff_s": 0.05},
        },
        governance={"address": peers.target},
        pii={"address": peers.target},
    )
    server = start_service(loop_thread, build(settings))
    channel = grpc.insecure_channel(server.target)
    yield tool_broker_pb2_grpc.ToolBrokerServiceStub(channel)
    channel.close()
    loop_thread.run(server.stop())
    loop_thread.run(peers.stop())


def _step(step_id: str, tool: str, **arguments: Any) -> common_pb2.PlanStep:
    return common_pb2.PlanStep(id=step_id, tool=tool, arguments=dict_to_struct(arguments))


def test_flight_status_of_ua123(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    request = tool_broker_pb2.ExecuteToolRequest(
        session_id="s1",
        turn_id="t1",
        step=_step("status", "getFlightStatus", flight_number="UA123"),
    )
    result = broker.ExecuteTool(request, timeout=10).result
    assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
    body = struct_to_dict(result.result)
    assert body["flight_number"] == "UA123"
    assert body["status"] == "cancelled"


def test_the_scenario_reads_run_concurrently(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    log = backend_of(mocks.apps["booking"]).log
    log.clear()
    plan = common_pb2.Plan(
        id="p1",
        steps=[
            _step("reservation", "getReservation", customer_id="C-1001", pnr="SBX7Q2"),
            _step("status", "getFlightStatus", flight_number="UA123"),
            _step("fares", "getFareRules", customer_id="C-1001", pnr="SBX7Q2"),
        ],
    )
    request = tool_broker_pb2.ExecutePlanRequest(session_id="s1", turn_id="t2", plan=plan)
    events = list(broker.ExecutePlan(request, timeout=10))
    finished = [e.step_finished.result for e in events if e.WhichOneof("item") == "step_finished"]
    assert {r.step_id: r.outcome for r in finished} == dict.fromkeys(
        ("reservation", "status", "fares"), Outcome.STEP_OUTCOME_SUCCEEDED
    ), [r.error for r in finished]
    records = log.records()
    assert sorted(r.operation_id or "" for r in records) == [
        "getFareRules",
        "getFlightStatus",
        "getReservation",
    ]
    ends = [r.ended_at for r in records]
    assert all(end is not None for end in ends)
    # Every request began before any of them ended: the three overlapped.
    assert max(r.started_at for r in records) < min(end for end in ends if end is not None)


def _call(
    stub: tool_broker_pb2_grpc.ToolBrokerServiceStub, step: common_pb2.PlanStep, turn: str
) -> common_pb2.StepResult:
    request = tool_broker_pb2.ExecuteToolRequest(session_id="s1", turn_id=turn, step=step)
    result: common_pb2.StepResult = stub.ExecuteTool(request, timeout=10).result
    return result


def test_a_change_fee_is_charged_once_although_the_first_reply_is_lost(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, mocks: MockCluster
) -> None:
    methods = _call(broker, _step("cards", "listPaymentMethods", customer_id="C-1001"), "t3")
    assert methods.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, methods.error
    card = next(
        m for m in struct_to_dict(methods.result)["payment_methods"] if m["status"] == "active"
    )
    charge = _step(
        "fee",
        "createCharge",
        customer_id="C-1001",
        payment_method_id=card["payment_method_id"],
        amount_cents=7500,
        currency="USD",
        description="change fee (broker test)",
        reference="SBX7Q2",
    )
    result = _call(broker, charge, "t3")
    assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
    assert (result.attempts, result.http_status) == (2, 201)

    records = [
        r
        for r in backend_of(mocks.apps["payments"]).log.records()
        if r.operation_id == "createCharge"
    ]
    assert len(records) == 2 and records[0].idempotency_key == records[1].idempotency_key
    listed = _call(
        broker, _step("charges", "listCharges", customer_id="C-1001", reference="SBX7Q2"), "t3"
    )
    fees = [
        c
        for c in struct_to_dict(listed.result)["charges"]
        if c["description"] == "change fee (broker test)"
    ]
    assert len(fees) == 1
    assert fees[0]["charge_id"] == struct_to_dict(result.result)["charge_id"]
