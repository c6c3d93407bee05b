"""The tool-broker over gRPC, against a real HTTP backend and stand-in governance and pii."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from broker_support import (
    CONTRACT,
    HttpServer,
    StandInGovernance,
    StandInPii,
    StandIns,
    TravelBackend,
    closed_port,
)
from harness import LoopThread, start_service

from services.config import load_settings
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import ConfigError
from services.runtime.server import GrpcServer
from services.tool_broker.broker import idempotency_key
from services.tool_broker.model import CallContext
from services.tool_broker.service import build
from switchboard.v1 import common_pb2, tool_broker_pb2, tool_broker_pb2_grpc

CARD = "4111111111111111"
Outcome = common_pb2.StepOutcome


@pytest.fixture(scope="module")
def backend(loop_thread: LoopThread) -> Iterator[tuple[TravelBackend, HttpServer]]:
    travel = TravelBackend()
    server = HttpServer(travel.app())
    loop_thread.run(server.start())
    yield travel, server
    loop_thread.run(server.stop())


@pytest.fixture(scope="module")
def stand_ins(loop_thread: LoopThread) -> Iterator[tuple[StandIns, GrpcServer]]:
    peers = StandIns(StandInGovernance(), StandInPii({"<CARD_1>": CARD}))
    server = start_service(loop_thread, peers)
    yield peers, server
    loop_thread.run(server.stop())


@pytest.fixture
def travel(backend: tuple[TravelBackend, HttpServer]) -> TravelBackend:
    backend[0].reset()
    return backend[0]


@pytest.fixture
def peers(stand_ins: tuple[StandIns, GrpcServer]) -> StandIns:
    stand_ins[0].governance.blocked.clear()
    stand_ins[0].governance.confirming.clear()
    stand_ins[0].governance.seen.clear()
    stand_ins[0].pii.restores.clear()
    stand_ins[0].pii.redactions.clear()
    return stand_ins[0]


BrokerFactory = Callable[..., tool_broker_pb2_grpc.ToolBrokerServiceStub]


@pytest.fixture
def make_broker(
    loop_thread: LoopThread,
    backend: tuple[TravelBackend, HttpServer],
    stand_ins: tuple[StandIns, GrpcServer],
) -> Iterator[BrokerFactory]:
    started: list[tuple[GrpcServer, grpc.Channel]] = []

    def make(
        base_url: str | None = None, **broker: Any
    ) -> tool_broker_pb2_grpc.ToolBrokerServiceStub:
        settings = load_settings(
            tool_broker={
                "backends": {
                    "travel": {
                        "openapi": str(CONTRACT),
                        "base_url": base_url or backend[1].base_url,
                    }
                },
                "call_timeout_s": 0.5,
                "retry": {"max_attempts": 3, "base_backoff_s": 0.01, "max_backoff_s": 0.05},
                **broker,
            },
            governance={"address": stand_ins[1].target},
            pii={"address": stand_ins[1].target},
        )
        server = start_service(loop_thread, build(settings))
        channel = grpc.insecure_channel(server.target)
        started.append((server, channel))
        return tool_broker_pb2_grpc.ToolBrokerServiceStub(channel)

    yield make
    for server, channel in started:
        channel.close()
        loop_thread.run(server.stop())


@pytest.fixture
def broker(make_broker: BrokerFactory) -> tool_broker_pb2_grpc.ToolBrokerServiceStub:
    return make_broker()


def _step(
    step_id: str, tool: str, depends_on: tuple[str, ...] = (), **arguments: Any
) -> common_pb2.PlanStep:
    return common_pb2.PlanStep(
        id=step_id, tool=tool, arguments=dict_to_struct(arguments), depends_on=list(depends_on)
    )


def _execute(
    stub: tool_broker_pb2_grpc.ToolBrokerServiceStub, tool: str, turn: str = "t1", **arguments: Any
) -> common_pb2.StepResult:
    request = tool_broker_pb2.ExecuteToolRequest(
        session_id="s1", turn_id=turn, step=_step("call", tool, **arguments)
    )
    return stub.ExecuteTool(request, timeout=10).result


def _plan(
    stub: tool_broker_pb2_grpc.ToolBrokerServiceStub,
    *steps: common_pb2.PlanStep,
    turn: str = "t1",
    **session: Any,
) -> list[tool_broker_pb2.ExecutePlanResponse]:
    request = tool_broker_pb2.ExecutePlanRequest(
        session_id="s1",
        turn_id=turn,
        plan=common_pb2.Plan(id="p1", steps=list(steps)),
        session=dict_to_struct(session) if session else None,
    )
    return list(stub.ExecutePlan(request, timeout=10))


def _finished(
    events: list[tool_broker_pb2.ExecutePlanResponse],
) -> dict[str, common_pb2.StepResult]:
    return {
        e.step_finished.result.step_id: e.step_finished.result
        for e in events
        if e.WhichOneof("item") == "step_finished"
    }


def test_list_tools_comes_from_the_contract(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub,
) -> None:
    tools = broker.ListTools(tool_broker_pb2.ListToolsRequest(), timeout=5).tools
    assert [t.name for t in tools] == [
        "addNote",
        "createCharge",
        "getFlightStatus",
        "searchFlights",
    ]
    status = tools[2]
    assert (status.backend, status.method, status.path) == (
        "travel",
        "GET",
        "/flights/{flight_number}/status",
    )
    assert status.read_only and status.media == common_pb2.MEDIA_KIND_CARD
    assert struct_to_dict(status.parameters)["required"] == ["flight_number"]
    assert tools[1].requires_confirmation and not tools[1].read_only
    assert broker.ListTools(tool_broker_pb2.ListToolsRequest(backend="crm"), timeout=5).tools == []


def test_a_read_succeeds_with_a_validated_masked_result(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    result = _execute(broker, "getFlightStatus", flight_number="UA123", date="2026-11-25")
    assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
    assert (result.attempts, result.http_status) == (1, 200)
    assert struct_to_dict(result.result)["status"] == "cancelled"
    assert [v.rule_id for v in result.verdicts] == ["default"]
    assert [(e.path, e.query) for e in travel.log] == [
        ("/flights/UA123/status", {"date": "2026-11-25"})
    ]
    assert "idempotency-key" not in travel.log[0].headers  # reads carry none


def test_strings_the_contract_marks_public_skip_pii_and_the_rest_is_masked(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    # The stand-in masks every original its vault holds, wherever it is sent.
    peers.pii.vault.update({"<LOCATION_1>": "SFO", "<ORGANIZATION_1>": "crew"})
    try:
        result = _execute(broker, "getFlightStatus", flight_number="UA789")
        assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
        status = struct_to_dict(result.result)
        # FlightStatus.reason is public; origin is not.
        assert (status["origin"], status["reason"]) == ("<LOCATION_1>", "crew")
        assert [r["reason"] for r in peers.pii.redactions] == [""]  # blanked, never sent
        # searchFlights' items are public throughout: the result never goes to pii.
        peers.pii.redactions.clear()
        result = _execute(broker, "searchFlights", origin="SFO", destination="ORD")
        assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
        flights = struct_to_dict(result.result)["items"]
        assert {(f["origin"], f["reason"]) for f in flights} >= {("SFO", "crew")}
        assert peers.pii.redactions == []
    finally:
        for placeholder in ("<LOCATION_1>", "<ORGANIZATION_1>"):
            peers.pii.vault.pop(placeholder)


def test_a_hallucinated_tool_is_rejected_and_never_sent(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    result = _execute(broker, "bookHotel", city="Paris")
    assert result.outcome == Outcome.STEP_OUTCOME_REJECTED
    assert result.error == "unknown tool 'bookHotel': no backend operation has this operationId"
    assert result.attempts == 0
    assert travel.log == []
    assert peers.governance.seen == []  # refused locally, before any network


def test_a_schema_violating_call_is_rejected_and_never_sent(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    result = _execute(broker, "getFlightStatus", flight_number="XX")
    assert result.outcome == Outcome.STEP_OUTCOME_REJECTED
    assert (
        result.error
        == "getFlightStatus: flight_number 'XX' does not match '^[A-Z0-9]{2}[0-9]{1,4}$'"
    )
    assert [v.rule_id for v in result.verdicts] == ["contract/arguments"]
    assert travel.log == []
    assert peers.governance.seen == []


def test_a_policy_block_is_never_sent(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    peers.governance.blocked.add("createCharge")
    result = _execute(broker, "createCharge", amount=500, currency="USD", card_number="<CARD_1>")
    assert result.outcome == Outcome.STEP_OUTCOME_REJECTED
    assert "policy test/no-charges said BLOCK" in result.error
    assert [v.action for v in result.verdicts] == [common_pb2.POLICY_ACTION_BLOCK]
    assert travel.log == [] and travel.charges == {}
    # Governance saw the masked arguments, and nothing was restored for a refused call.
    assert struct_to_dict(peers.governance.seen[0].step.arguments)["card_number"] == "<CARD_1>"
    assert peers.pii.restores == []


def test_a_payment_retried_after_a_timeout_charges_exactly_once(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    travel.first_attempt_delay_s = 1.0  # the first attempt charges, then answers after the timeout
    result = _execute(broker, "createCharge", amount=500, currency="USD", card_number="<CARD_1>")
    assert result.outcome == Outcome.STEP_OUTCOME_SUCCEEDED, result.error
    assert (result.attempts, result.http_status) == (2, 201)
    assert len(travel.charges) == 1
    keys = [entry.headers["idempotency-key"] for entry in travel.log]
    assert keys == [idempotency_key(CallContext("s1", "t1"), "call")] * 2
    # The card was restored for the backend only: what comes back is masked again.
    assert [entry.body["card_number"] for entry in travel.log] == [CARD, CARD]
    assert list(peers.pii.restores[0].allowed_types) == ["CARD"]
    assert struct_to_dict(result.result)["card_last4"] == "1111"


def test_a_mutation_without_an_idempotency_key_is_not_retried(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend
) -> None:
    travel.first_attempt_delay_s = 1.0
    result = _execute(broker, "addNote", customer_id="C-1001", text="rebooked")
    assert result.outcome == Outcome.STEP_OUTCOME_TIMED_OUT
    assert result.attempts == 1
    assert len(travel.log) == 1 and "idempotency-key" in travel.log[0].headers


def test_a_placeholder_the_tool_may_not_receive_is_rejected(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend
) -> None:
    result = _execute(broker, "addNote", customer_id="C-1001", text="card <CARD_1> on file")
    assert result.outcome == Outcome.STEP_OUTCOME_REJECTED
    assert "addNote may not receive <CARD_1>" in result.error
    assert travel.log == []


def test_a_tripped_breaker_fails_fast_without_calling_the_backend(
    make_broker: BrokerFactory, travel: TravelBackend
) -> None:
    stub = make_broker(
        retry={"max_attempts": 1}, breaker={"failure_threshold": 2, "reset_timeout_s": 60}
    )
    travel.failing.add("UA123")
    for _ in range(2):
        result = _execute(stub, "getFlightStatus", flight_number="UA123")
        assert result.outcome == Outcome.STEP_OUTCOME_FAILED
        assert result.error == (
            "getFlightStatus: travel answered HTTP 503: Service unavailable: "
            "the status feed is down"
        )
    result = _execute(stub, "getFlightStatus", flight_number="UA456")
    assert result.outcome == Outcome.STEP_OUTCOME_UNAVAILABLE
    assert result.attempts == 0
    assert "circuit of backend 'travel' is open after 2 consecutive failures" in result.error
    assert len(travel.log) == 2


def test_an_unreachable_backend_is_unavailable(make_broker: BrokerFactory) -> None:
    stub = make_broker(base_url=f"http://127.0.0.1:{closed_port()}")
    result = _execute(stub, "getFlightStatus", flight_number="UA123")
    assert result.outcome == Outcome.STEP_OUTCOME_UNAVAILABLE
    assert result.attempts == 3  # a read is retried
    assert "backend 'travel' is unreachable: ConnectError" in result.error


def test_a_contract_violating_response_is_failed_not_data(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend
) -> None:
    travel.lying.add("UA456")
    result = _execute(broker, "getFlightStatus", flight_number="UA456")
    assert result.outcome == Outcome.STEP_OUTCOME_FAILED
    assert result.error.startswith(
        "the response breaks the contract: "
        "getFlightStatus: response 200: status 'late' is not one of"
    )
    assert not result.HasField("result")


def test_a_backend_problem_is_reported(broker: tool_broker_pb2_grpc.ToolBrokerServiceStub) -> None:
    result = _execute(broker, "getFlightStatus", flight_number="ZZ999")
    assert result.outcome == Outcome.STEP_OUTCOME_FAILED
    assert (result.http_status, result.attempts) == (404, 1)
    assert (
        result.error
        == "getFlightStatus: travel answered HTTP 404: Flight not found: no flight ZZ999"
    )


def test_independent_steps_run_concurrently(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend
) -> None:
    travel.gate_size = 3
    events = _plan(
        broker,
        _step("a", "getFlightStatus", flight_number="UA123"),
        _step("b", "getFlightStatus", flight_number="UA456"),
        _step("c", "getFlightStatus", flight_number="UA789"),
    )
    results = _finished(events)
    assert {r.outcome for r in results.values()} == {Outcome.STEP_OUTCOME_SUCCEEDED}
    # Every request began before any ended: the three were in flight together.
    assert len(travel.log) == 3
    assert max(e.start for e in travel.log) < min(e.end for e in travel.log)
    kinds = [e.WhichOneof("item") for e in events]
    assert kinds[:3] == ["step_started"] * 3 and kinds[3:] == ["step_finished"] * 3


def test_references_resolve_to_earlier_results(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend
) -> None:
    events = _plan(
        broker,
        _step(
            "status",
            "getFlightStatus",
            ("alts",),
            flight_number="${steps.alts.items.0.flight_number}",
        ),
        _step("alts", "searchFlights", origin="SFO", destination="ORD"),
        _step(
            "note", "addNote", customer_id="C-1001", text="Moved to ${steps.status.flight_number}"
        ),
    )
    results = _finished(events)
    assert {k: r.outcome for k, r in results.items()} == dict.fromkeys(
        ("alts", "status", "note"), Outcome.STEP_OUTCOME_SUCCEEDED
    )
    assert [e.path for e in travel.log] == ["/flights", "/flights/UA456/status", "/notes"]
    assert travel.notes == [{"customer_id": "C-1001", "text": "Moved to UA456"}]
    started = {
        e.step_started.step_id: struct_to_dict(e.step_started.arguments)
        for e in events
        if e.WhichOneof("item") == "step_started"
    }
    assert started["status"] == {"flight_number": "UA456"}


def test_dependants_of_a_failed_step_are_skipped(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend
) -> None:
    events = _plan(
        broker,
        _step("missing", "getFlightStatus", flight_number="ZZ999"),
        _step("next", "addNote", ("missing",), customer_id="C-1001", text="x"),
        _step("after", "addNote", ("next",), customer_id="C-1001", text="y"),
    )
    results = _finished(events)
    assert results["missing"].outcome == Outcome.STEP_OUTCOME_FAILED
    assert results["next"].outcome == Outcome.STEP_OUTCOME_SKIPPED
    assert results["after"].outcome == Outcome.STEP_OUTCOME_SKIPPED
    assert [e.path for e in travel.log] == ["/flights/ZZ999/status"]


def _rules(result: common_pb2.StepResult) -> list[tuple[str, int]]:
    return [(v.rule_id, v.action) for v in result.verdicts]


def _charge(step_id: str = "charge", **arguments: Any) -> common_pb2.PlanStep:
    return _step(
        step_id,
        "createCharge",
        **{"amount": 2500, "currency": "USD", "card_number": "<CARD_1>", **arguments},
    )


def test_no_change_is_made_while_another_step_of_the_plan_waits_for_a_yes(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    peers.governance.confirming.add("createCharge")
    plan = (
        _step("note", "addNote", customer_id="C-1001", text="charged for the change"),
        _step("status", "getFlightStatus", flight_number="UA456"),
        _charge(),
    )
    results = _finished(_plan(broker, *plan))
    # The charge is held for the customer's yes, so the note that goes with it is not written;
    # the read runs, for the reply.
    assert results["charge"].outcome == Outcome.STEP_OUTCOME_REJECTED
    assert results["note"].outcome == Outcome.STEP_OUTCOME_REJECTED
    assert _rules(results["note"])[-1] == ("plan/held", common_pb2.POLICY_ACTION_CONFIRM)
    assert "waits for the customer's confirmation" in results["note"].error
    assert results["status"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    assert [e.path for e in travel.log] == ["/flights/UA456/status"]

    # Once confirmed, the same plan makes both changes.
    results = _finished(_plan(broker, *plan, turn="t2", confirmed=True))
    assert {r.outcome for r in results.values()} == {Outcome.STEP_OUTCOME_SUCCEEDED}
    assert sorted(e.path for e in travel.log) == [
        "/charges",
        "/flights/UA456/status",
        "/flights/UA456/status",
        "/notes",
    ]


def test_no_change_is_made_beside_a_step_refused_once_its_references_resolve(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    # The charge's contract asks for a "yes", so the note waits for it; policy refuses it.
    peers.governance.blocked.add("createCharge")
    results = _finished(
        _plan(
            broker,
            _step("alts", "searchFlights", origin="SFO", destination="ORD"),
            _charge(customer_id="${steps.alts.items.0.flight_number}"),
            _step("note", "addNote", customer_id="C-1001", text="charged"),
        )
    )
    assert _rules(results["charge"]) == [("test/no-charges", common_pb2.POLICY_ACTION_BLOCK)]
    assert _rules(results["note"])[-1] == ("plan/held", common_pb2.POLICY_ACTION_BLOCK)
    assert "step 'charge' of this plan (createCharge) is refused by policy" in results["note"].error
    assert [e.path for e in travel.log] == ["/flights"]


def test_a_change_that_needs_the_held_step_ends_once_skipped(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    peers.governance.confirming.add("createCharge")
    events = _plan(
        broker,
        _charge(),
        _step("note", "addNote", ("charge",), customer_id="C-1001", text="charged"),
    )
    ended = [e.step_finished.result for e in events if e.WhichOneof("item") == "step_finished"]
    assert [(r.step_id, r.outcome) for r in ended] == [
        ("charge", Outcome.STEP_OUTCOME_REJECTED),
        ("note", Outcome.STEP_OUTCOME_SKIPPED),
    ]
    assert travel.log == []


def test_changes_go_on_when_the_step_that_would_ask_for_a_yes_does_not_apply(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    peers.governance.confirming.add("createCharge")
    results = _finished(
        _plan(
            broker,
            _step("alts", "searchFlights", origin="SFO", destination="ORD"),
            # No tenth flight: this branch of the plan does not apply.
            _charge(customer_id="${steps.alts.items.9.flight_number}"),
            _step("note", "addNote", customer_id="C-1001", text="looked at other flights"),
        )
    )
    assert results["charge"].outcome == Outcome.STEP_OUTCOME_REJECTED
    assert not results["charge"].verdicts
    assert results["note"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    assert travel.notes == [{"customer_id": "C-1001", "text": "looked at other flights"}]


def test_a_change_the_held_step_needs_is_made_before_the_question(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    peers.governance.confirming.add("createCharge")
    results = _finished(
        _plan(
            broker,
            _step("note", "addNote", customer_id="C-1001", text="about to charge"),
            _charge(customer_id="${steps.note.note_id}"),
        )
    )
    assert results["note"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    assert _rules(results["charge"]) == [("test/confirm-charges", common_pb2.POLICY_ACTION_CONFIRM)]
    assert [e.path for e in travel.log] == ["/notes"]


def test_no_change_is_made_when_a_step_known_in_advance_is_refused(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    peers.governance.blocked.add("getFlightStatus")
    results = _finished(
        _plan(
            broker,
            _step("note", "addNote", customer_id="C-1001", text="checked your flight"),
            _step("alts", "searchFlights", origin="SFO", destination="ORD"),
            _step("status", "getFlightStatus", flight_number="UA456"),
        )
    )
    assert results["status"].outcome == Outcome.STEP_OUTCOME_REJECTED
    assert results["note"].outcome == Outcome.STEP_OUTCOME_REJECTED
    assert _rules(results["note"])[-1] == ("plan/step-refused", common_pb2.POLICY_ACTION_BLOCK)
    assert "step 'status' of this plan (getFlightStatus) is refused by policy test/no-charges" in (
        results["note"].error
    )
    assert results["alts"].outcome == Outcome.STEP_OUTCOME_SUCCEEDED
    assert [e.path for e in travel.log] == ["/flights"]


def test_the_turn_budget_is_counted_over_the_whole_plan_before_a_change_is_made(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub, travel: TravelBackend, peers: StandIns
) -> None:
    _finished(
        _plan(
            broker,
            _step("note", "addNote", customer_id="C-1001", text="x"),
            _step("alts", "searchFlights", origin="SFO", destination="ORD"),
            _step("status", "getFlightStatus", flight_number="UA456"),
            turn="budget",
        )
    )
    # Checked in advance at their places in the plan, then each as it runs.
    advance = [(r.step.id, r.calls_in_turn) for r in peers.governance.seen[:3]]
    assert sorted(advance) == [("alts", 1), ("note", 0), ("status", 2)]
    assert len(peers.governance.seen) == 6


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [
                _step("a", "getFlightStatus", ("b",), flight_number="UA1"),
                _step("b", "getFlightStatus", ("a",), flight_number="UA2"),
            ],
            "plan is not acyclic: steps 'a', 'b' wait for each other",
        ),
        (
            [_step("a", "getFlightStatus", ("ghost",), flight_number="UA1")],
            "step 'a' depends on unknown step(s) 'ghost'",
        ),
        (
            [
                _step("a", "getFlightStatus", flight_number="UA1"),
                _step("a", "getFlightStatus", flight_number="UA2"),
            ],
            "plan has two steps with id 'a'",
        ),
        (
            [_step("a", "getFlightStatus", flight_number="${steps.a.flight_number}")],
            "plan is not acyclic",
        ),
    ],
)
def test_a_plan_that_is_not_a_dag_is_invalid(
    broker: tool_broker_pb2_grpc.ToolBrokerServiceStub,
    travel: TravelBackend,
    steps: list[common_pb2.PlanStep],
    message: str,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        _plan(broker, *steps)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (raised.value.details() or "")
    assert travel.log == []


def test_execute_tool_needs_a_tool_name(broker: tool_broker_pb2_grpc.ToolBrokerServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        broker.ExecuteTool(tool_broker_pb2.ExecuteToolRequest(session_id="s1"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_each_step_gets_its_share_of_the_deadline(
    make_broker: BrokerFactory, travel: TravelBackend
) -> None:
    stub = make_broker(call_timeout_s=30.0)  # only the deadline bounds the calls
    travel.first_attempt_delay_s = 1.5
    request = tool_broker_pb2.ExecutePlanRequest(
        session_id="s1",
        turn_id="t1",
        plan=common_pb2.Plan(
            steps=[
                _step("first", "addNote", customer_id="C-1001", text="a"),
                _step("second", "addNote", ("first",), customer_id="C-1001", text="b"),
            ]
        ),
    )
    # A two-step chain under a 1 s deadline: the first step gets about half of it, so it times
    # out and the stream still ends normally, with the second step skipped.
    results = _finished(list(stub.ExecutePlan(request, timeout=1.0)))
    assert results["first"].outcome == Outcome.STEP_OUTCOME_TIMED_OUT
    assert "did not answer POST /notes within" in results["first"].error
    assert results["second"].outcome == Outcome.STEP_OUTCOME_SKIPPED
    assert len(travel.log) == 1


def test_the_concurrency_limit_holds_calls_back(
    make_broker: BrokerFactory, travel: TravelBackend
) -> None:
    stub = make_broker(max_concurrency=1)
    travel.first_attempt_delay_s = 0.05
    results = _finished(
        _plan(
            stub,
            _step("a", "addNote", customer_id="C-1001", text="a"),
            _step("b", "addNote", customer_id="C-1001", text="b"),
        )
    )
    assert {r.outcome for r in results.values()} == {Outcome.STEP_OUTCOME_SUCCEEDED}
    first, second = sorted(travel.log, key=lambda entry: entry.start)
    assert first.end <= second.start  # one call in flight at a time


def test_a_missing_contract_stops_the_start(loop_thread: LoopThread, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "openapi.yaml"
    settings = load_settings(
        tool_broker={"backends": {"crm": {"openapi": str(missing), "base_url": "http://x"}}}
    )
    with pytest.raises(ConfigError, match=r"nowhere/openapi\.yaml: cannot read the OpenAPI"):
        loop_thread.run(build(settings).start())
