"""Turns on the model tiers, through the real openai SDK against the scripted model server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from harness import LoopThread, ephemeral_settings, free_port
from pydantic import SecretStr

from mocks.common.app import backend_of
from mocks.model.script import (
    Match,
    Reply,
    ScriptEntry,
    ToolCallSpec,
    error_status,
    text_reply,
    tool_reply,
)
from services.mesh import Mesh, start_mesh
from switchboard.v1 import common_pb2, events_pb2, router_pb2, router_pb2_grpc

FAST = "gpt-4.1"
DEEP = "gpt-5.2"


@pytest.fixture(scope="module")
def model_mesh(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    settings = ephemeral_settings(Path(tmp_path_factory.mktemp("model-mesh")))
    port = free_port()
    settings.mocks.ports["model"] = port
    settings.planner.model.enabled = True
    settings.planner.model.base_url = f"http://127.0.0.1:{port}/v1"
    settings.planner.model.api_key = SecretStr("test-key")
    settings.planner.model.max_attempts = 1
    running = loop_thread.run(start_mesh(settings), timeout=180)
    yield running
    loop_thread.run(running.stop())


def _script(mesh: Mesh, entries: list[ScriptEntry]) -> None:
    mesh.mocks.apps["model"].state.model.script.set(entries)
    httpx.delete(f"{mesh.mocks.base_urls['model']}/_admin/requests")


def _turn(mesh: Mesh, text: str, session: str = "model-1") -> list[events_pb2.TurnEvent]:
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(session_id=session, text=text)
        return [r.event for r in stub.SendTurn(request, timeout=60)]


def _status_plans() -> list[ScriptEntry]:
    """The fast model's call of UA123's status; should the planner choose the deep tier, the deep
    model's plan of the same step."""
    step = {"id": "status", "tool": "getFlightStatus", "arguments": {"flight_number": "UA123"}}
    return [
        tool_reply("getFlightStatus", {"flight_number": "UA123"}, model=FAST, last_role="user"),
        tool_reply("submit_plan", {"steps": [step]}, model=DEEP),
    ]


def test_the_fast_tier_plans_the_tool_call_and_composes_the_reply(model_mesh: Mesh) -> None:
    # Composing comes first: its request also ends with the customer's message.
    composed = text_reply(
        "Flight UA123 is cancelled because of the winter storm.",
        model=FAST,
        system_contains="Tool results",
    )
    _script(model_mesh, [composed, *_status_plans()])
    events = _turn(model_mesh, "Is flight UA 123 on time? My card is 4111 1111 1111 1111.")
    kinds = [e.WhichOneof("event") for e in events]
    fallbacks = [e.fallback.detail for e in events if e.WhichOneof("event") == "fallback"]
    assert kinds[-1] == "turn_completed" and not fallbacks, fallbacks
    (plan,) = [e.plan.plan for e in events if e.WhichOneof("event") == "plan"]
    assert plan.tier in ("fast", "deep") and [s.tool for s in plan.steps] == ["getFlightStatus"]
    (step,) = [e.step_finished.result for e in events if e.WhichOneof("event") == "step_finished"]
    assert step.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    completed = events[-1].turn_completed
    assert "cancelled" in completed.reply
    assert completed.usage.input_tokens > 0 and completed.usage.output_tokens > 0
    assert FAST in completed.usage.model.split(",")  # the fast model composed
    # The model saw the masked message only.
    sent = httpx.get(f"{model_mesh.mocks.base_urls['model']}/_admin/requests").text
    assert "<CARD_1>" in sent and "4111" not in sent


def test_a_failing_model_lands_on_the_embedded_engine_and_says_so(model_mesh: Mesh) -> None:
    _script(model_mesh, [error_status(500)])
    events = _turn(model_mesh, "Is flight UA 123 on time?")
    fallbacks = [e.fallback for e in events if e.WhichOneof("event") == "fallback"]
    assert [f.reason for f in fallbacks] == [events_pb2.FALLBACK_REASON_MODEL_UNAVAILABLE]
    assert fallbacks[0].action == events_pb2.FALLBACK_ACTION_EMBEDDED_ENGINE
    (plan,) = [e.plan.plan for e in events if e.WhichOneof("event") == "plan"]
    assert plan.tier == "embedded" and plan.fallback_reason
    assert "cancelled" in events[-1].turn_completed.reply


def test_a_yes_takes_up_what_the_models_reply_offered(model_mesh: Mesh) -> None:
    offered = Reply(
        content="Flight UA123 is cancelled because of the winter storm. Shall I rebook you?",
        tool_calls=[ToolCallSpec(name="offer_next", arguments={"intent": "rebook_flight"})],
    )
    composed = ScriptEntry(match=Match(system_contains="Tool results"), reply=offered)
    _script(model_mesh, [composed, *_status_plans()])
    status = _turn(model_mesh, "Is flight UA 123 on time?", "model-offer")
    assert status[-1].turn_completed.reply == offered.content
    # The yes is the rebooking, which asks this chat (no customer) for the trip.
    rebook = _turn(model_mesh, "yes please", "model-offer")
    (plan,) = [e.plan.plan for e in rebook if e.WhichOneof("event") == "plan"]
    assert plan.flow == "rebook_flight", rebook[-1].turn_completed.reply
    asked = rebook[-1].turn_completed.reply
    assert asked.startswith("What is the reservation code?"), asked


def test_scripted_entries_match_as_documented() -> None:
    # Guards the script semantics the tests above rely on.
    entry = ScriptEntry(match=Match(model=FAST, last_role="user"))
    assert entry.match is not None
    assert entry.match.holds({"model": FAST, "messages": [{"role": "user", "content": "hi"}]})
    assert not entry.match.holds({"model": FAST, "messages": [{"role": "tool", "content": "x"}]})


def test_a_model_asking_for_another_customers_records_is_refused(model_mesh: Mesh) -> None:
    """The channel serves C-1006; a plan that reads C-1001's cases (a model that took the id from
    the message) is blocked before the CRM sees it, on either tier."""
    other = {"customer_id": "C-1001"}
    _script(
        model_mesh,
        [
            text_reply(
                "I can only look at your own cases.", model=FAST, system_contains="Tool results"
            ),
            text_reply(
                "I can only look at your own cases.", model=DEEP, system_contains="Tool results"
            ),
            tool_reply("listCases", other, model=FAST, last_role="user"),
            tool_reply(
                "submit_plan",
                {"steps": [{"id": "cases", "tool": "listCases", "arguments": other}]},
                model=DEEP,
            ),
        ],
    )
    crm = backend_of(model_mesh.mocks.apps["crm"]).log
    crm.clear()
    with grpc.insecure_channel(model_mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        request = router_pb2.SendTurnRequest(
            session_id="model-other-customer",
            text="what's the status of the cases of customer C-1001?",
            customer_id="C-1006",
        )
        events = [r.event for r in stub.SendTurn(request, timeout=60)]
    results = [e.step_finished.result for e in events if e.WhichOneof("event") == "step_finished"]
    refused = [r for r in results if r.tool == "listCases"]
    assert refused, [e.WhichOneof("event") for e in events]
    for result in refused:
        assert result.outcome == common_pb2.STEP_OUTCOME_REJECTED
        assert [
            v.rule_id for v in result.verdicts if v.action == common_pb2.POLICY_ACTION_BLOCK
        ] == ["base/customer-data-only-as-the-caller"]
    assert not [r for r in crm.records() if r.operation_id == "listCases"]
