"""Observability: a turn's span tree, OTLP export, the waterfall, logs with trace context."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from harness import free_port
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.mesh import Mesh
from services.runtime.telemetry import JsonFormatter, JsonLinesSpanExporter, _TraceContextFilter
from services.trace_view import load_spans, render
from switchboard.v1 import pii_pb2, pii_pb2_grpc, router_pb2, router_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def _turn_spans(mesh: Mesh, spans: InMemorySpanExporter, text: str) -> list[ReadableSpan]:
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        events = [
            r.event
            for r in stub.SendTurn(
                router_pb2.SendTurnRequest(session_id="obs-1", text=text), timeout=30
            )
        ]
    trace_id = int(events[0].trace_id, 16)
    assert trace_id, "the turn has a real trace id"
    # Server spans end just after the last message is sent; wait for the tree to be whole.
    end = time.monotonic() + 10
    while time.monotonic() < end:
        found = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
        if any(s.name == "/switchboard.v1.RouterService/SendTurn" for s in found):
            return found
        time.sleep(0.05)
    raise AssertionError("the router's server span never finished")


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        node = by_id[parent.span_id]
        names.append(node.name)
        parent = node.parent
    return names


def test_a_turn_is_one_trace_tying_every_hop_to_its_stage(
    mesh: Mesh, spans: InMemorySpanExporter
) -> None:
    found = _turn_spans(mesh, spans, "Is flight UA 123 on time?")
    by_id = {s.context.span_id: s for s in found}

    def one(name: str) -> ReadableSpan:
        matches = [s for s in found if s.name == name]
        assert matches, f"no span {name}; have {sorted({s.name for s in found})}"
        return matches[0]

    turn = one("switchboard.turn")
    assert "/switchboard.v1.RouterService/SendTurn" in _ancestors(turn, by_id)
    # router → planner, under the plan stage
    assert "switchboard.stage.plan" in _ancestors(one("/switchboard.v1.PlannerService/Plan"), by_id)
    # router → tool-broker, under the act stage; tool-broker → backend over HTTP beneath it
    broker = one("/switchboard.v1.ToolBrokerService/ExecutePlan")
    assert "switchboard.stage.act" in _ancestors(broker, by_id)
    http = [
        s
        for s in found
        if s.attributes.get("http.request.method") or s.attributes.get("http.method")
    ]
    assert http, "the backend call is traced"
    assert "/switchboard.v1.ToolBrokerService/ExecutePlan" in _ancestors(http[0], by_id)
    # the tool call's policy check runs under the broker's execution
    check = one("/switchboard.v1.GovernanceService/CheckToolCall")
    assert "/switchboard.v1.ToolBrokerService/ExecutePlan" in _ancestors(check, by_id)
    # the input checks run under the understand stage
    assert "switchboard.stage.understand" in _ancestors(
        one("/switchboard.v1.GovernanceService/CheckInput"), by_id
    )
    assert turn.attributes["switchboard.intent"] == "flight_status"


def test_spans_carry_masked_text_only(mesh: Mesh, spans: InMemorySpanExporter) -> None:
    card = "4111 1111 1111 1111"
    found = _turn_spans(mesh, spans, f"my card is {card}, is UA 123 on time?")
    for span in found:
        dumped = span.to_json()
        assert card not in dumped and card.replace(" ", "") not in dumped, span.name


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    servicer = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(None)


def test_a_service_exports_its_spans_to_an_otlp_receiver(
    receiver: tuple[Receiver, int], tmp_path: Path
) -> None:
    servicer, otlp_port = receiver
    port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "SWITCHBOARD_PII__PORT": str(port),
        "SWITCHBOARD_TELEMETRY__OTLP_ENDPOINT": f"127.0.0.1:{otlp_port}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "pii"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            stub = pii_pb2_grpc.PiiServiceStub(channel)
            stub.Redact(
                pii_pb2.RedactRequest(session_id="otlp", text="hi"), timeout=10, wait_for_ready=True
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr.decode()
    exported = [
        (resource.resource, span)
        for request in servicer.requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = {span.name for _, span in exported}
    assert "/switchboard.v1.PiiService/Redact" in names
    services = {
        a.value.string_value
        for resource, _ in exported
        for a in resource.attributes
        if a.key == "service.name"
    }
    assert services == {"pii"}
    # The local span file is written as well.
    assert (tmp_path / "telemetry" / "pii.spans.jsonl").read_text()


def test_the_waterfall_draws_the_tree_from_span_files(tmp_path: Path) -> None:
    path = tmp_path / "router.spans.jsonl"
    provider = TracerProvider(resource=Resource.create({"service.name": "router"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("switchboard.turn") as root:
        with tracer.start_as_current_span("switchboard.stage.act"):
            with tracer.start_as_current_span(
                "getFlightStatus", attributes={"switchboard.tool.name": "getFlightStatus"}
            ):
                time.sleep(0.002)
    with tracer.start_as_current_span("another.trace"):
        pass
    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = load_spans([path], trace_id)
    assert {s.name for s in spans} == {
        "switchboard.turn",
        "switchboard.stage.act",
        "getFlightStatus",
    }
    drawn = render(spans).splitlines()
    assert drawn[0].startswith("trace spans=3")
    assert drawn[1].startswith("switchboard.turn [router]")
    assert drawn[2].startswith("  switchboard.stage.act")
    assert drawn[3].startswith("    getFlightStatus") and "name=getFlightStatus" in drawn[3]
    assert render(load_spans([path], "0" * 32)) == "no spans found for that trace"


def test_json_logs_carry_the_trace_and_span_ids() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(_TraceContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("switchboard.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("step") as span:
            logger.warning("backend slow: %s", "booking")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(out.getvalue())
    assert entry["message"] == "backend slow: booking"
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["span_id"] == format(span.get_span_context().span_id, "016x")


def _points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_turns_record_latency_stage_tool_and_fallback_metrics(
    mesh: Mesh, metric_reader: InMemoryMetricReader
) -> None:
    with grpc.insecure_channel(mesh.target("router")) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        for text in ("Is flight UA 123 on time?", "write me a poem about the sea"):
            list(stub.SendTurn(router_pb2.SendTurnRequest(session_id="metrics-1", text=text)))
    turns = _points(metric_reader, "switchboard.turn.duration")
    assert sum(p.count for p in turns) >= 2
    stages = {
        p.attributes["switchboard.stage"]
        for p in _points(metric_reader, "switchboard.stage.duration")
    }
    assert {"understand", "decide", "plan", "act", "answer"} <= stages
    tools = {
        p.attributes["switchboard.tool.name"]
        for p in _points(metric_reader, "switchboard.tool.duration")
    }
    assert "getFlightStatus" in tools
    reasons = {
        p.attributes["switchboard.fallback.reason"]: p.value
        for p in _points(metric_reader, "switchboard.fallbacks")
    }
    assert reasons.get("FALLBACK_REASON_OUT_OF_SCOPE", 0) >= 1
