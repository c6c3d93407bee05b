"""A real turn through Envoy in front of the whole mesh, once per protocol."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import grpc
import httpx
import pytest
from gateway_clients import grpc_send_turn, grpc_web_call, ndjson, rest_send_turn
from gateway_support import ORIGIN, running_gateway

from services.gateway_runner import REPO_ROOT, Gateway
from services.mesh import Mesh
from switchboard.v1 import router_pb2, router_pb2_grpc

QUESTION = "Is flight UA 123 on time?"


@pytest.fixture(scope="module")
def mesh_gateway(tmp_path_factory: pytest.TempPathFactory, mesh: Mesh) -> Iterator[Gateway]:
    yield from running_gateway(tmp_path_factory.mktemp("mesh-gateway"), mesh.target("router"))


def test_native_grpc_turn_through_the_gateway(mesh_gateway: Gateway) -> None:
    request = router_pb2.SendTurnRequest(session_id="gw-grpc", text=QUESTION, channel="test")
    events = [r.event for r in grpc_send_turn(mesh_gateway.address, request)]

    assert events[0].HasField("turn_started") and events[-1].HasField("turn_completed")
    (intent,) = [e.intent for e in events if e.HasField("intent")]
    assert intent.name == "flight_status"
    reply = "".join(e.text_delta.text for e in events if e.HasField("text_delta"))
    assert reply and reply == events[-1].turn_completed.reply


def test_converse_through_the_gateway(mesh_gateway: Gateway) -> None:
    requests = [
        router_pb2.ConverseRequest(
            turn=router_pb2.ConverseTurn(turn_id=f"g{i}", session_id=f"gw-conv-{i}", text=text)
        )
        for i, text in enumerate((QUESTION, "Thanks!"))
    ]
    with grpc.insecure_channel(mesh_gateway.address) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        events = [r.event for r in stub.Converse(iter(requests), timeout=60)]
    ended = {e.turn_id for e in events if e.HasField("turn_completed") or e.HasField("error")}
    assert ended == {"g0", "g1"}


def test_grpc_web_turn_through_the_gateway(mesh_gateway: Gateway) -> None:
    request = router_pb2.SendTurnRequest(session_id="gw-web", text=QUESTION, channel="web")
    reply = grpc_web_call(mesh_gateway.address, "SendTurn", request, headers={"origin": ORIGIN})

    assert reply.http_status == 200 and reply.grpc_status == 0, reply.trailers
    events = [r.event for r in reply.decode(router_pb2.SendTurnResponse)]
    assert events[0].HasField("turn_started") and events[-1].HasField("turn_completed")
    assert any(e.HasField("intent") and e.intent.name == "flight_status" for e in events)


def test_rest_turn_and_transcript_through_the_gateway(mesh_gateway: Gateway) -> None:
    response = rest_send_turn(mesh_gateway.address, "gw-rest", {"text": QUESTION})
    assert response.status_code == 200, response.text
    events = [item["event"] for item in ndjson(response)]
    assert "turn_started" in events[0] and "turn_completed" in events[-1]
    assert [e["intent"]["name"] for e in events if "intent" in e] == ["flight_status"]

    transcript = httpx.get(
        f"http://{mesh_gateway.address}/v1/sessions/gw-rest/transcript", timeout=30
    )
    assert transcript.status_code == 200, transcript.text
    (turn,) = transcript.json()["turns"]
    assert turn["intent"]["name"] == "flight_status"

    invalid = rest_send_turn(mesh_gateway.address, "gw-rest", {"text": ""})
    assert invalid.status_code == 400, invalid.text


def test_the_smoke_script_against_the_mesh(mesh_gateway: Gateway) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "gateway" / "smoke.py"),
            "--gateway",
            mesh_gateway.address,
            "--origin",
            ORIGIN,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["ok", "grpc"],
        ["ok", "grpc-web"],
        ["ok", "rest"],
    ]


def test_the_gateway_sees_the_router_healthy(mesh_gateway: Gateway) -> None:
    # Envoy would still route to an unhealthy-only cluster (panic mode): check health directly.
    stats = mesh_gateway.stats()
    assert stats["cluster.router.membership_total"] == 1
    assert stats["cluster.router.membership_healthy"] == 1
    assert stats["cluster.router.health_check.failure"] == 0
