"""One turn per protocol through the real Envoy binary, plus the route policies that shape them."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from gateway_clients import (
    grpc_send_turn,
    grpc_web_call,
    grpc_web_frame,
    ndjson,
    parse_grpc_web,
    rest_send_turn,
)
from gateway_fakes import REPLY, CollectorStandIn, RouterStandIn
from gateway_support import ORIGIN, running_gateway

from services.gateway_runner import Gateway
from services.runtime.server import GrpcServer
from switchboard.v1 import router_pb2, router_pb2_grpc

StandIn = tuple[RouterStandIn, GrpcServer]


def kinds(events: list[router_pb2.SendTurnResponse]) -> list[str]:
    return [r.event.WhichOneof("event") or "" for r in events]


def test_native_grpc_turn(gateway: Gateway, router_stand_in: StandIn) -> None:
    request = router_pb2.SendTurnRequest(session_id="grpc-1", text="Is UA 123 on time?")
    events = grpc_send_turn(gateway.address, request)

    assert kinds(events) == ["turn_started", "intent", "text_delta", "text_delta", "turn_completed"]
    assert events[0].event.turn_started.session_id == "grpc-1"
    assert events[-1].event.turn_completed.reply == "".join(REPLY)
    # The call went through Envoy, which tags every request it forwards.
    assert "x-request-id" in router_stand_in[0].calls_to("SendTurn")[-1]


def test_native_grpc_bidirectional_converse(gateway: Gateway) -> None:
    requests = [
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id=f"c{i}", session_id="conv-1", text=text)
        )
        for i, text in enumerate(("Hello", "Is UA 123 on time?"))
    ]
    with grpc.insecure_channel(gateway.address) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        events = [r.event for r in stub.Converse(iter(requests), timeout=20)]
    assert [e.turn_id for e in events if e.HasField("turn_completed")] == ["c0", "c1"]


def test_grpc_web_turn_with_cors(gateway: Gateway) -> None:
    request = router_pb2.SendTurnRequest(session_id="web-1", text="Is UA 123 on time?")
    reply = grpc_web_call(gateway.address, "SendTurn", request, headers={"origin": ORIGIN})

    assert reply.http_status == 200
    assert reply.headers["content-type"].startswith("application/grpc-web")
    assert reply.trailers.get("grpc-status") == "0", reply.trailers
    events = reply.decode(router_pb2.SendTurnResponse)
    assert kinds(events)[0] == "turn_started" and kinds(events)[-1] == "turn_completed"
    assert "".join(e.event.text_delta.text for e in events) == "".join(REPLY)
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert "grpc-status" in reply.headers["access-control-expose-headers"]


def test_cors_preflight_allows_the_configured_origin_only(gateway: Gateway) -> None:
    url = f"http://{gateway.address}/switchboard.v1.RouterService/SendTurn"
    asked = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-grpc-web,x-user-agent",
    }
    allowed = httpx.options(url, headers={"origin": ORIGIN, **asked}, timeout=10)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-grpc-web" in allowed.headers["access-control-allow-headers"]

    other = httpx.options(url, headers={"origin": "https://evil.example", **asked}, timeout=10)
    assert "access-control-allow-origin" not in other.headers


def test_rest_turn_streams_newline_delimited_json(gateway: Gateway) -> None:
    response = rest_send_turn(
        gateway.address, "rest-1", {"text": "Is UA 123 on time?", "channel": "web"}
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    events = [item["event"] for item in ndjson(response)]
    assert next(iter(events[0])) in ("turn_id", "trace_id", "turn_started")
    assert events[0]["turn_started"] == {"session_id": "rest-1", "channel": "web"}
    assert "".join(e["text_delta"]["text"] for e in events if "text_delta" in e) == "".join(REPLY)
    assert events[-1]["turn_completed"]["reply"] == "".join(REPLY)


def test_rest_transcript_and_errors_map_to_http_statuses(gateway: Gateway) -> None:
    assert rest_send_turn(gateway.address, "rest-2", {"text": "hello"}).status_code == 200

    transcript = httpx.get(f"http://{gateway.address}/v1/sessions/rest-2/transcript", timeout=10)
    assert transcript.status_code == 200, transcript.text
    body = transcript.json()
    assert body["session_id"] == "rest-2"
    assert [turn["customer_text"] for turn in body["turns"]] == ["hello"]

    missing = httpx.get(f"http://{gateway.address}/v1/sessions/nobody/transcript", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]

    invalid = rest_send_turn(gateway.address, "rest-3", {"text": ""})
    assert invalid.status_code == 400
    assert "text is required" in invalid.json()["message"]

    unknown = httpx.get(f"http://{gateway.address}/v1/nothing-here", timeout=10)
    assert unknown.status_code == 404


def test_transcript_reads_are_retried_but_turns_are_not(
    gateway: Gateway, router_stand_in: StandIn
) -> None:
    router = router_stand_in[0]
    grpc_send_turn(gateway.address, router_pb2.SendTurnRequest(session_id="flaky-1", text="hi"))
    read = len(router.calls_to("GetTranscript"))
    with grpc.insecure_channel(gateway.address) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        # The stand-in fails the first GetTranscript of a flaky- session with UNAVAILABLE.
        transcript = stub.GetTranscript(
            router_pb2.GetTranscriptRequest(session_id="flaky-1"), timeout=10
        )
        assert [t.customer_text for t in transcript.turns] == ["hi"]
        assert len(router.calls_to("GetTranscript")) == read + 2

        sent = len(router.calls_to("SendTurn"))
        with pytest.raises(grpc.RpcError) as failed:
            list(
                stub.SendTurn(
                    router_pb2.SendTurnRequest(session_id="unavailable-1", text="hi"), timeout=10
                )
            )
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(router.calls_to("SendTurn")) == sent + 1


def test_the_clients_trace_is_continued_and_exported(
    gateway: Gateway, router_stand_in: StandIn, collector: tuple[CollectorStandIn, GrpcServer]
) -> None:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = f"00-{trace_id}-{parent_id}-01"
    request = router_pb2.SendTurnRequest(session_id="trace-1", text="hello")
    events = grpc_send_turn(gateway.address, request, metadata=(("traceparent", traceparent),))

    # The router sees the same trace, under a span the gateway made.
    seen = router_stand_in[0].calls_to("SendTurn")[-1]["traceparent"].split("-")
    assert seen[1] == trace_id and seen[2] != parent_id
    assert events[0].event.trace_id == trace_id

    # The gateway exports its spans: its server span is the client's span's child, and the span
    # the router sees as its parent is one of the gateway's.
    def gateway_spans() -> dict[str, str]:
        return {
            span.span_id.hex(): span.parent_span_id.hex()
            for service, span in collector[0].spans()
            if service == "gateway" and span.trace_id.hex() == trace_id
        }

    wait_for(
        lambda: parent_id in gateway_spans().values() and seen[2] in gateway_spans(),
        "the gateway's spans at the collector",
    )


def test_access_log_is_json_per_request(gateway: Gateway) -> None:
    grpc_send_turn(gateway.address, router_pb2.SendTurnRequest(session_id="log-1", text="hi"))
    log_path = gateway.config.parent / "access.log"

    def logged() -> list[dict[str, str]]:
        if not log_path.exists():
            return []
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line]
        return [line for line in lines if line["route"] == "send-turn"]

    wait_for(lambda: bool(logged()), "a JSON access-log line for the turn")
    entry = logged()[-1]
    assert entry["grpc_path"] == "/switchboard.v1.RouterService/SendTurn"
    assert entry["grpc_status"] == 0 and entry["status"] == 200
    assert entry["protocol"] == "HTTP/2"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_healthz_turns_503_when_the_gateway_drains(
    tmp_path: Path, router_stand_in: StandIn
) -> None:
    for draining in running_gateway(tmp_path, router_stand_in[1].target):
        url = f"http://{draining.address}/healthz"
        assert httpx.get(url, timeout=10).status_code == 200
        draining.drain(0)
        assert httpx.get(url, timeout=10).status_code == 503


def test_the_gateway_health_checks_the_router_over_grpc(gateway: Gateway) -> None:
    stats = gateway.stats()
    assert stats["cluster.router.membership_healthy"] == 1
    assert stats["cluster.router.health_check.success"] >= 1


def test_grpc_web_text_mode_as_browsers_send_it(gateway: Gateway) -> None:
    # grpc-web's default "text" mode: base64 frames both ways, for browsers without binary XHR.
    request = router_pb2.SendTurnRequest(session_id="web-text-1", text="Is UA 123 on time?")
    reply = httpx.post(
        f"http://{gateway.address}/switchboard.v1.RouterService/SendTurn",
        content=base64.b64encode(grpc_web_frame(request)),
        headers={
            "content-type": "application/grpc-web-text",
            "accept": "application/grpc-web-text",
            "x-grpc-web": "1",
            "origin": ORIGIN,
        },
        timeout=20,
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/grpc-web-text")
    # Envoy encodes each frame on its own, so the body is several base64 strings back to back.
    raw = b"".join(
        base64.b64decode(chunk + b"=" * (-len(chunk) % 4))
        for chunk in re.findall(rb"[A-Za-z0-9+/]+=*", reply.content)
    )
    messages, trailers = parse_grpc_web(raw)
    assert trailers.get("grpc-status") == "0", trailers
    events = [router_pb2.SendTurnResponse.FromString(m).event for m in messages]
    assert events[-1].turn_completed.reply == "".join(REPLY)
