"""The model tiers through the real ``openai`` SDK against the scripted model server."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness import LoopThread
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from planner_support import ModelServer, plan_request, run_compose, run_plan, start_planner, stub

from mocks.model.script import (
    Fault,
    Match,
    Reply,
    ScriptEntry,
    ToolCallSpec,
    error_status,
    hallucinated_tool_call,
    malformed_tool_call,
    schema_violating_call,
    text_reply,
    tool_reply,
)
from services.runtime.convert import dict_to_struct, struct_to_dict
from switchboard.v1 import common_pb2, planner_pb2, planner_pb2_grpc

FAST, DEEP = "gpt-4.1", "gpt-5.2"
STATUS_TEXT = "Is flight UA 123 on time?"

Planner = Callable[..., planner_pb2_grpc.PlannerServiceStub]


@pytest.fixture(scope="module")
def model_server(loop_thread: LoopThread) -> Iterator[ModelServer]:
    server = ModelServer(loop_thread).start()
    yield server
    server.stop()


@pytest.fixture
def model(model_server: ModelServer) -> ModelServer:
    model_server.model.script.set([])
    model_server.model.clear_requests()
    return model_server


@pytest.fixture
def planner(loop_thread: LoopThread, model: ModelServer) -> Iterator[Planner]:
    started: list[Any] = []

    def start(**overrides: Any) -> planner_pb2_grpc.PlannerServiceStub:
        settings = {
            "base_url": model.base_url,
            "api_key": "test-key",
            "sdk_max_retries": 0,
            "max_attempts": 2,
            "retry_backoff_s": 0.01,
            "first_token_timeout_s": 5.0,
            **overrides,
        }
        server, _ = start_planner(loop_thread, **settings)
        channel, client = stub(server)
        started.append((server, channel))
        return client

    yield start
    for server, channel in started:
        channel.close()
        loop_thread.run(server.stop())


def _requests(model: ModelServer, name: str | None = None) -> list[dict[str, Any]]:
    return [r for r in model.model.requests() if name is None or r["model"] == name]


def _plan_call(steps: list[dict[str, Any]]) -> ScriptEntry:
    return tool_reply("submit_plan", {"steps": steps}, model=DEEP, forced_tool="submit_plan")


REBOOK_PLAN = [
    {
        "id": "res",
        "tool": "getReservation",
        "arguments": {"customer_id": "C-1001", "pnr": "SBX7Q2"},
    },
    {"id": "fare", "tool": "getFareRules", "arguments": {"customer_id": "C-1001", "pnr": "SBX7Q2"}},
    {
        "id": "alts",
        "tool": "searchFlights",
        "arguments": {
            "origin": "${steps.res.segments.0.origin}",
            "destination": "${steps.res.segments.0.destination}",
            "date": "${steps.res.segments.0.date}",
        },
        "depends_on": ["res"],
        "description": "Same-route flights on the day",
    },
]


def test_fast_tier_turns_tool_calls_into_steps(planner: Planner, model: ModelServer) -> None:
    model.model.script.set([tool_reply("getFlightStatus", {"flight_number": "UA123"}, model=FAST)])
    steps, plan = run_plan(planner(), plan_request(STATUS_TEXT, "flight_status"))

    assert [(s.tool, struct_to_dict(s.arguments)) for s in steps] == [
        ("getFlightStatus", {"flight_number": "UA123"})
    ]
    assert (plan.tier, plan.flow) == ("fast", "model")
    assert plan.fallback_reason == ""
    (usage,) = plan.usage
    assert usage.model == FAST and usage.input_tokens > 0 and usage.output_tokens > 0

    (sent,) = _requests(model)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "getFlightStatus" in {t["function"]["name"] for t in sent["tools"]}
    assert sent["messages"][-1] == {"role": "user", "content": STATUS_TEXT}
    assert "never invent" in sent["messages"][0]["content"].lower()


def test_deep_tier_returns_a_validated_multi_step_plan(
    planner: Planner, model: ModelServer
) -> None:
    model.model.script.set([_plan_call(REBOOK_PLAN)])
    request = plan_request(
        "My flight got cancelled, rebook me. Reservation SBX7Q2.",
        "rebook_flight",
        tier="deep",
        customer_id="C-1001",
    )
    steps, plan = run_plan(planner(), request)

    assert [s.id for s in steps] == ["res", "fare", "alts"]
    assert list(steps[2].depends_on) == ["res"]
    assert struct_to_dict(steps[2].arguments)["origin"] == "${steps.res.segments.0.origin}"
    assert (plan.tier, plan.flow) == ("deep", "model")
    (sent,) = _requests(model)
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "submit_plan"}}
    assert "getFareRules" in sent["messages"][0]["content"]  # the catalogue is in the prompt


def test_a_second_likely_intent_makes_the_turn_deep(planner: Planner, model: ModelServer) -> None:
    model.model.script.set([_plan_call(REBOOK_PLAN[:2])])
    request = plan_request(
        "Is UA 123 on time, and what are my fare rules for SBX7Q2?",
        "flight_status",
        candidates=[common_pb2.IntentScore(name="rebook_flight", confidence=0.45)],
    )
    _, plan = run_plan(planner(), request)
    assert plan.tier == "deep"
    assert [r["model"] for r in _requests(model)] == [DEEP]


def test_an_invalid_plan_is_repaired_once(planner: Planner, model: ModelServer) -> None:
    hallucinated = [{"id": "hotel", "tool": "bookHotel", "arguments": {"city": "SFO"}}]
    model.model.script.set(
        [
            ScriptEntry(
                match=Match(model=DEEP, last_role="user"),
                reply=Reply(
                    tool_calls=[ToolCallSpec(name="submit_plan", arguments={"steps": hallucinated})]
                ),
            ),
            _plan_call(REBOOK_PLAN),
        ]
    )
    steps, plan = run_plan(
        planner(), plan_request("rebook SBX7Q2", "rebook_flight", tier="deep", customer_id="C-1001")
    )

    assert plan.tier == "deep" and [s.tool for s in steps] == [
        "getReservation",
        "getFareRules",
        "searchFlights",
    ]
    first, second = _requests(model, DEEP)
    repair = second["messages"][-1]
    assert repair["role"] == "tool" and "unknown tool 'bookHotel'" in repair["content"]
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "submit_plan"


def test_a_plan_still_invalid_after_repair_falls_back_to_the_flow(
    planner: Planner, model: ModelServer
) -> None:
    cyclic = [
        {
            "id": "a",
            "tool": "getFlightStatus",
            "arguments": {"flight_number": "UA123"},
            "depends_on": ["b"],
        },
        {
            "id": "b",
            "tool": "getFlightStatus",
            "arguments": {"flight_number": "UA123"},
            "depends_on": ["a"],
        },
    ]
    model.model.script.set([_plan_call(cyclic)])
    steps, plan = run_plan(planner(), plan_request(STATUS_TEXT, "flight_status", tier="deep"))

    assert len(_requests(model, DEEP)) == 2
    assert (plan.tier, plan.flow) == ("embedded", "flight_status")
    assert [s.tool for s in steps] == ["getFlightStatus"]
    assert "invalid after one repair" in plan.fallback_reason
    assert "cycle" in plan.fallback_reason
    assert [u.model for u in plan.usage] == [DEEP, DEEP]


@pytest.mark.parametrize(
    ("bad_call", "complaint"),
    [
        (malformed_tool_call("getFlightStatus"), "not a valid JSON object"),
        (
            schema_violating_call("getFlightStatus", {"flight_number": 123}),
            "123 is not of type 'string'",
        ),
        (schema_violating_call("getFlightStatus", {"flight_number": "UA 123!"}), "does not match"),
    ],
    ids=["malformed-json", "wrong-type", "pattern"],
)
def test_fast_tier_sends_rejected_calls_back_and_accepts_the_fix(
    planner: Planner, model: ModelServer, bad_call: ScriptEntry, complaint: str
) -> None:
    bad_call.match = Match(model=FAST, last_role="user")
    model.model.script.set(
        [
            bad_call,
            tool_reply("getFlightStatus", {"flight_number": "UA123"}, model=FAST, last_role="tool"),
        ]
    )
    steps, plan = run_plan(planner(), plan_request(STATUS_TEXT, "flight_status"))

    assert plan.tier == "fast"
    assert [struct_to_dict(s.arguments) for s in steps] == [{"flight_number": "UA123"}]
    _, second = _requests(model, FAST)
    assert (
        second["messages"][-1]["role"] == "tool" and complaint in second["messages"][-1]["content"]
    )


def test_a_hallucinated_tool_escalates_from_fast_to_deep(
    planner: Planner, model: ModelServer
) -> None:
    model.model.script.set(
        [
            hallucinated_tool_call("checkFlightOnTime", model=FAST),
            _plan_call(
                [
                    {
                        "id": "status",
                        "tool": "getFlightStatus",
                        "arguments": {"flight_number": "UA123"},
                    }
                ]
            ),
        ]
    )
    steps, plan = run_plan(planner(fast_tool_rounds=2), plan_request(STATUS_TEXT, "flight_status"))

    assert plan.tier == "deep" and [s.tool for s in steps] == ["getFlightStatus"]
    assert [r["model"] for r in _requests(model)] == [FAST, FAST, DEEP]
    assert [u.model for u in plan.usage] == [FAST, FAST, DEEP]
    assert all(u.input_tokens > 0 and u.output_tokens > 0 for u in plan.usage)


def test_a_rate_limit_is_retried(planner: Planner, model: ModelServer) -> None:
    limited = error_status(429, retry_after_s=0)
    limited.times = 1
    model.model.script.set(
        [limited, tool_reply("getFlightStatus", {"flight_number": "UA123"}, model=FAST)]
    )
    _, plan = run_plan(planner(), plan_request(STATUS_TEXT, "flight_status"))
    assert plan.tier == "fast"
    assert len(_requests(model)) == 2


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(status=500), "HTTP 500"),
        (Fault(status=429), "rate limited"),
        (Fault(first_token_delay_s=3.0), "did not answer in time"),
    ],
    ids=["server-error", "rate-limit", "slow-first-token"],
)
def test_a_failing_model_falls_back_to_the_embedded_engine(
    planner: Planner, model: ModelServer, fault: Fault, reason: str
) -> None:
    model.model.script.set([ScriptEntry(fault=fault)])
    client = planner(first_token_timeout_s=0.2)
    steps, plan = run_plan(client, plan_request(STATUS_TEXT, "flight_status"))

    assert (plan.tier, plan.flow) == ("embedded", "flight_status")
    assert [(s.tool, struct_to_dict(s.arguments)) for s in steps] == [
        ("getFlightStatus", {"flight_number": "UA123"})
    ]
    assert reason in plan.fallback_reason
    assert len(_requests(model)) == 2  # our own bound on attempts


def test_an_unreachable_model_falls_back_and_says_so(planner: Planner, model: ModelServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = planner(base_url=f"http://127.0.0.1:{closed_port}/v1")
    steps, plan = run_plan(client, plan_request(STATUS_TEXT, "flight_status"))

    assert plan.tier == "embedded" and [s.tool for s in steps] == ["getFlightStatus"]
    assert plan.fallback_reason.startswith("model unavailable")
    result = common_pb2.StepResult(
        step_id="status",
        tool="getFlightStatus",
        outcome=common_pb2.STEP_OUTCOME_SUCCEEDED,
        result=dict_to_struct(
            {
                "flight_number": "UA123",
                "origin": "ORD",
                "destination": "SFO",
                "date": "2026-11-25",
                "scheduled_departure": "2026-11-25T07:00:00Z",
                "status": "on_time",
            }
        ),
    )
    compose = planner_pb2.ComposeRequest(text=STATUS_TEXT, plan=plan, results=[result])
    text, _, _, usage = run_compose(client, compose)
    assert "on time" in text and usage.model == "embedded"


def _compose_status(
    model: ModelServer, reply: Reply, intent: str = ""
) -> planner_pb2.ComposeRequest:
    """Scripts the fast model's ``reply`` to a Compose; the request of a turn whose one step, of
    the fast tier's plan, read UA123's status: cancelled by a winter storm."""
    model.model.script.set(
        [ScriptEntry(match=Match(model=FAST, system_contains="Tool results"), reply=reply)]
    )
    plan = common_pb2.Plan(
        id="p",
        tier="fast",
        flow="model",
        steps=[common_pb2.PlanStep(id="status", tool="getFlightStatus")],
    )
    result = common_pb2.StepResult(
        step_id="status",
        tool="getFlightStatus",
        outcome=common_pb2.STEP_OUTCOME_SUCCEEDED,
        result=dict_to_struct(
            {"flight_number": "UA123", "status": "cancelled", "reason": "weather: winter storm"}
        ),
    )
    return planner_pb2.ComposeRequest(
        text=STATUS_TEXT,
        plan=plan,
        results=[result],
        intent=common_pb2.IntentScore(name=intent, confidence=0.99) if intent else None,
    )


def test_compose_streams_a_grounded_reply_with_media_and_usage(
    planner: Planner, model: ModelServer
) -> None:
    reply = Reply(
        content="Flight UA123 to SFO is cancelled because of a winter storm. Here is its card.",
        tool_calls=[
            ToolCallSpec(
                name="show_media", arguments={"step_id": "status", "kind": "card", "title": "UA123"}
            )
        ],
    )
    text, deltas, media, usage = run_compose(planner(), _compose_status(model, reply))

    assert text == reply.content and len(deltas) > 5
    assert [(m.kind, m.step_id, m.title) for m in media] == [
        (common_pb2.MEDIA_KIND_CARD, "status", "UA123")
    ]
    assert struct_to_dict(media[0].data)["reason"] == "weather: winter storm"
    assert usage.model == FAST and usage.input_tokens > 0 and usage.output_tokens > 0
    (sent,) = _requests(model)
    assert "weather: winter storm" in sent["messages"][0]["content"]


def test_a_composed_reply_names_the_request_it_offers_so_a_yes_takes_it_up(
    planner: Planner, model: ModelServer
) -> None:
    # The model may offer what the status flow's own replies offer (a rebooking, a refund, a
    # colleague); an offer of anything else is ignored, as is a repeated one.
    reply = Reply(
        content="Flight UA123 is cancelled because of a winter storm. Shall I rebook you?",
        tool_calls=[
            ToolCallSpec(name="offer_next", arguments={"intent": "rebook_flight"}),
            ToolCallSpec(name="offer_next", arguments={"intent": "cancel_reservation"}),
            ToolCallSpec(name="offer_next", arguments={"intent": "rebook_flight"}),
        ],
    )
    request = _compose_status(model, reply, intent="flight_status")
    items = list(planner().Compose(request, timeout=30))
    offers = [i.offer.intent for i in items if i.WhichOneof("item") == "offer"]
    assert offers == ["rebook_flight"]
    assert items[-1].WhichOneof("item") == "usage"
    (sent,) = _requests(model)
    (tool,) = [t for t in sent["tools"] if t["function"]["name"] == "offer_next"]
    offerable = tool["function"]["parameters"]["properties"]["intent"]["enum"]
    assert offerable == ["human_agent", "rebook_flight", "refund_request"]
    assert "`rebook_flight`" in sent["messages"][0]["content"]

    # A request whose flow offers nothing: the tool is not offered, and a call of it is ignored.
    model.model.clear_requests()
    request.intent.name = "withdrawal_status"
    items = list(planner().Compose(request, timeout=30))
    assert [i for i in items if i.WhichOneof("item") == "offer"] == []
    (sent,) = _requests(model)
    assert [t["function"]["name"] for t in sent["tools"]] == ["show_media"]


def test_the_model_receives_only_the_masked_text_it_is_given(
    planner: Planner, model: ModelServer
) -> None:
    masked = "My card <CARD_1> was charged twice and my email is <EMAIL_1>. Is UA 123 on time?"
    history = [common_pb2.HistoryEntry(role="customer", text="Hi, I'm <PERSON_1>.")]
    model.model.script.set([tool_reply("getFlightStatus", {"flight_number": "UA123"}, model=FAST)])
    run_plan(
        planner(), plan_request(masked, "flight_status", history=history, customer_id="C-1001")
    )

    (sent,) = _requests(model)
    user_texts = [m["content"] for m in sent["messages"] if m["role"] == "user"]
    assert user_texts == ["Hi, I'm <PERSON_1>.", masked]
    everything = json.dumps(sent["messages"])
    assert "<CARD_1>" in everything and "<EMAIL_1>" in everything and "<PERSON_1>" in everything


def test_no_model_configured_never_touches_the_network(
    loop_thread: LoopThread, model: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server, service = start_planner(loop_thread)
    channel, client = stub(server)
    try:
        _, plan = run_plan(client, plan_request(STATUS_TEXT, "flight_status"))
    finally:
        channel.close()
        loop_thread.run(server.stop())
    assert plan.tier == "embedded" and service.planner is not None and service.planner.tiers is None
    assert _requests(model) == []


def test_the_environment_configures_the_model(
    loop_thread: LoopThread, model: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", model.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    model.model.script.set([text_reply("Hello!", model=FAST)])
    server, service = start_planner(loop_thread, sdk_max_retries=0)
    channel, client = stub(server)
    try:
        _, plan = run_plan(client, plan_request("what's your name?", "out_of_scope", tier="fast"))
    finally:
        channel.close()
        loop_thread.run(server.stop())
    assert plan.tier == "fast" and list(plan.steps) == []
    assert len(_requests(model)) == 1


def test_model_calls_are_traced_under_the_plan_span(
    planner: Planner, model: ModelServer, spans: InMemorySpanExporter
) -> None:
    model.model.script.set([tool_reply("getFlightStatus", {"flight_number": "UA123"}, model=FAST)])
    request = plan_request(STATUS_TEXT, "flight_status")
    request.turn_id = "t-traced"
    run_plan(planner(), request)

    finished = spans.get_finished_spans()
    (plan_span,) = [
        s
        for s in finished
        if s.name == "switchboard.planner.plan"
        and s.attributes["switchboard.turn.id"] == "t-traced"
    ]
    calls = [s for s in finished if s.parent and s.parent.span_id == plan_span.context.span_id]
    assert [c.name for c in calls] == [f"chat {FAST}"]
    attributes = dict(calls[0].attributes or {})
    assert attributes["gen_ai.request.model"] == FAST
    assert (
        attributes["gen_ai.usage.input_tokens"] > 0 and attributes["gen_ai.usage.output_tokens"] > 0
    )
    assert plan_span.attributes["switchboard.plan.tier"] == "fast"
    assert not any(
        STATUS_TEXT in str(v) for s in (plan_span, *calls) for v in s.attributes.values()
    )


def test_a_model_plan_composed_while_the_model_is_down_gets_a_grounded_generic_reply(
    planner: Planner, model: ModelServer
) -> None:
    model.model.script.set([ScriptEntry(fault=Fault(status=503))])
    plan = common_pb2.Plan(
        id="p",
        tier="deep",
        flow="model",
        steps=[
            common_pb2.PlanStep(id="loyalty", tool="getLoyaltyAccount"),
            common_pb2.PlanStep(id="trips", tool="listCustomerReservations"),
        ],
    )
    results = [
        common_pb2.StepResult(
            step_id="loyalty",
            tool="getLoyaltyAccount",
            outcome=common_pb2.STEP_OUTCOME_SUCCEEDED,
            result=dict_to_struct({"tier": "gold", "miles": 84000}),
        ),
        common_pb2.StepResult(
            step_id="trips",
            tool="listCustomerReservations",
            outcome=common_pb2.STEP_OUTCOME_UNAVAILABLE,
            error="circuit open",
        ),
    ]
    text, _, _, usage = run_compose(
        planner(), planner_pb2.ComposeRequest(text="miles?", plan=plan, results=results)
    )
    assert "tier: gold" in text and "miles: 84000" in text
    assert "couldn't reach the booking system" in text
    assert usage.model == "embedded"
    assert len(_requests(model)) == 2
