"""The embedded engine end to end through a real planner gRPC server, with no model configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from harness import LoopThread
from planner_support import plan_request, run_compose, run_plan, start_planner, stub

from services.config import load_settings
from services.planner.flows import FlowBook
from services.planner.tools import ToolIndex
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import ConfigError
from switchboard.v1 import common_pb2, planner_pb2, planner_pb2_grpc

CANCELLED = {
    "flight_number": "UA123",
    "carrier": "UA",
    "origin": "ORD",
    "destination": "SFO",
    "date": "2026-11-25",
    "scheduled_departure": "2026-11-25T07:00:00Z",
    "scheduled_arrival": "2026-11-25T09:40:00Z",
    "estimated_departure": None,
    "status": "cancelled",
    "delay_minutes": 0,
    "reason": "weather: winter storm",
}


@pytest.fixture
def planner(
    loop_thread: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> Iterator[planner_pb2_grpc.PlannerServiceStub]:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server, service = start_planner(loop_thread)
    assert service.planner is not None and service.planner.tiers is None
    channel, client = stub(server)
    yield client
    channel.close()
    loop_thread.run(server.stop())


def compose_request(
    plan: common_pb2.Plan, *results: common_pb2.StepResult
) -> planner_pb2.ComposeRequest:
    return planner_pb2.ComposeRequest(
        session_id="s-1",
        turn_id="t-1",
        text="Is flight UA 123 on time?",
        intent=common_pb2.IntentScore(name="flight_status", confidence=0.9),
        plan=plan,
        results=list(results),
    )


def test_flight_status_plans_get_flight_status_and_replies_from_its_result(
    planner: planner_pb2_grpc.PlannerServiceStub,
) -> None:
    steps, plan = run_plan(planner, plan_request("Is flight UA 123 on time?", "flight_status"))

    assert [(s.id, s.tool, struct_to_dict(s.arguments)) for s in steps] == [
        ("status", "getFlightStatus", {"flight_number": "UA123"})
    ]
    assert list(plan.steps) == steps
    assert (plan.flow, plan.tier, list(plan.missing_slots)) == ("flight_status", "embedded", [])
    assert dict(plan.slots) == {"flight_number": "UA123"}
    assert plan.fallback_reason == ""  # no model configured: not a fallback

    result = common_pb2.StepResult(
        step_id="status",
        tool="getFlightStatus",
        outcome=common_pb2.STEP_OUTCOME_SUCCEEDED,
        result=dict_to_struct(CANCELLED),
        http_status=200,
    )
    text, _, media, usage = run_compose(planner, compose_request(plan, result))

    assert "UA123" in text and "cancelled" in text and "weather: winter storm" in text
    assert "ORD" in text and "SFO" in text
    assert [(m.kind, m.step_id) for m in media] == [(common_pb2.MEDIA_KIND_CARD, "status")]
    assert struct_to_dict(media[0].data)["reason"] == "weather: winter storm"
    assert "cancelled" in media[0].title
    assert (usage.model, usage.input_tokens, usage.output_tokens) == ("embedded", 0, 0)


def test_delayed_flight_reply_uses_the_result_times(
    planner: planner_pb2_grpc.PlannerServiceStub,
) -> None:
    _, plan = run_plan(planner, plan_request("is ua123 late?", "flight_status"))
    delayed = {
        **CANCELLED,
        "status": "delayed",
        "delay_minutes": 45,
        "reason": "late inbound aircraft",
        "estimated_departure": "2026-11-25T07:45:00Z",
    }
    result = common_pb2.StepResult(
        step_id="status",
        tool="getFlightStatus",
        outcome=common_pb2.STEP_OUTCOME_SUCCEEDED,
        result=dict_to_struct(delayed),
    )
    text, _, _, _ = run_compose(planner, compose_request(plan, result))
    assert "delayed by 45 minutes" in text and "07:45" in text and "07:00" in text
    # With the origin's local clocks, both times are told in them too.
    local = {
        **delayed,
        "scheduled_departure_local": "2026-11-25T01:00:00-06:00",
        "estimated_departure_local": "2026-11-25T01:45:00-06:00",
    }
    result.result.CopyFrom(dict_to_struct(local))
    text, _, _, _ = run_compose(planner, compose_request(plan, result))
    assert (
        "It is now expected to leave at 01:45 local time (07:45 UTC) instead of 01:00 local "
        "time (07:00 UTC)." in text
    ), text
    # An evening in Chicago is the next morning in UTC: the UTC time names its day.
    evening = {
        **local,
        "scheduled_departure_local": "2026-11-24T19:00:00-06:00",
        "estimated_departure_local": "2026-11-24T19:45:00-06:00",
        "scheduled_departure": "2026-11-25T01:00:00Z",
        "estimated_departure": "2026-11-25T01:45:00Z",
    }
    result.result.CopyFrom(dict_to_struct(evening))
    text, _, _, _ = run_compose(planner, compose_request(plan, result))
    assert (
        "It is now expected to leave at 19:45 local time (01:45 UTC on Wed 25 Nov) instead of "
        "19:00 local time (01:00 UTC on Wed 25 Nov)." in text
    ), text


@pytest.mark.parametrize(
    "outcome", [common_pb2.STEP_OUTCOME_UNAVAILABLE, common_pb2.STEP_OUTCOME_TIMED_OUT]
)
def test_an_unreachable_backend_gets_an_honest_reply_and_no_media(
    planner: planner_pb2_grpc.PlannerServiceStub, outcome: int
) -> None:
    _, plan = run_plan(planner, plan_request("Is flight UA 123 on time?", "flight_status"))
    result = common_pb2.StepResult(
        step_id="status", tool="getFlightStatus", outcome=outcome, error="circuit open"
    )
    text, _, media, _ = run_compose(planner, compose_request(plan, result))
    assert "couldn't reach the booking system" in text and "UA123" in text
    assert "on time" not in text and "cancelled" not in text
    assert media == []


def test_slots_are_filled_across_two_turns(planner: planner_pb2_grpc.PlannerServiceStub) -> None:
    steps, plan = run_plan(planner, plan_request("Is my flight on time?", "flight_status"))
    assert steps == [] and list(plan.steps) == []
    assert list(plan.missing_slots) == ["flight_number"]
    assert (plan.flow, plan.tier) == ("flight_status", "embedded")

    question, _, media, usage = run_compose(planner, compose_request(plan))
    assert "Which flight" in question and media == [] and usage.model == "embedded"

    # The answer alone carries no recognisable intent; the pending flow picks it up.
    follow_up = plan_request(
        "it's UA 123",
        "out_of_scope",
        confidence=0.3,
        pending_flow=plan.flow,
        slots=dict(plan.slots),
    )
    steps, plan = run_plan(planner, follow_up)
    assert [(s.tool, struct_to_dict(s.arguments)) for s in steps] == [
        ("getFlightStatus", {"flight_number": "UA123"})
    ]
    assert plan.flow == "flight_status" and list(plan.missing_slots) == []


def test_the_clarified_message_holds_the_details_of_the_request_named_after_it(
    planner: planner_pb2_grpc.PlannerServiceStub,
) -> None:
    # "Is UA 123 running late?" was clarified; "check a flight's status" names the request.
    named = plan_request(
        "check a flight's status", "flight_status", clarified_text="Is UA 123 running late?"
    )
    steps, plan = run_plan(planner, named)
    assert [(s.tool, struct_to_dict(s.arguments)) for s in steps] == [
        ("getFlightStatus", {"flight_number": "UA123"})
    ]
    assert list(plan.missing_slots) == []
    # This message's own details win over the clarified one's.
    own = plan_request(
        "the status of DL 2207 please", "flight_status", clarified_text="Is UA 123 running late?"
    )
    steps, _ = run_plan(planner, own)
    assert [struct_to_dict(s.arguments) for s in steps] == [{"flight_number": "DL2207"}]


def test_an_intent_without_flow_or_model_is_a_failed_precondition(
    planner: planner_pb2_grpc.PlannerServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        run_plan(planner, plan_request("what's the meaning of life", "out_of_scope"))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "out_of_scope" in (raised.value.details() or "")


def test_a_request_without_intent_is_invalid(planner: planner_pb2_grpc.PlannerServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        list(planner.Plan(planner_pb2.PlanRequest(text="hello"), timeout=10))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _tools() -> ToolIndex:
    return ToolIndex.load(load_settings().tool_broker.backends)


def test_every_shipped_flow_loads_against_the_contracts_present() -> None:
    book = FlowBook.load(load_settings().planner.flows_dir, _tools())
    assert "flight_status" in book.names()


def test_a_flow_naming_an_unknown_tool_fails_to_load_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        """
industry: airline
flows:
  flight_status:
    slots:
      flight_number: {patterns: ['([A-Z]{2}[0-9]+)'], question: 'Which flight?'}
    steps:
      - {id: status, tool: getFlightStatuss, arguments: {flight_number: '${slots.flight_numbr}'}}
      - {id: two, tool: getFlightStatus, depends_on: [nowhere], arguments: {}}
    replies:
      - {text: '{{ steps.status.result.status'}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        FlowBook.load(tmp_path, _tools())
    message = raised.value.message
    assert "bad.yaml: flight_status" in message
    assert "unknown tool 'getFlightStatuss'" in message
    assert "unknown slot 'flight_numbr'" in message
    assert "nowhere" in message
    assert "template error" in message
