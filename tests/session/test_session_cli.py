"""``switchboard session show`` and ``erase`` against real gRPC servers on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from click.testing import CliRunner
from google.protobuf import duration_pb2
from grpc import aio
from harness import LoopThread, start_service

from services.config import load_settings
from services.runtime.server import GrpcServer
from services.session.cli import session
from services.session.service import build
from services.session.transcript import render
from switchboard.v1 import (
    common_pb2,
    events_pb2,
    pii_pb2,
    pii_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)


class FakeVault(pii_pb2_grpc.PiiServiceServicer):
    """A PII service that only erases, and remembers what it was asked to erase."""

    def __init__(self) -> None:
        self.erased: list[str] = []

    async def EraseSession(
        self, request: pii_pb2.EraseSessionRequest, context: Any
    ) -> pii_pb2.EraseSessionResponse:
        self.erased.append(request.session_id)
        return pii_pb2.EraseSessionResponse(erased=3)


class FakePiiService:
    name: str = "pii"
    service_names: Sequence[str] = ("switchboard.v1.PiiService",)

    def __init__(self) -> None:
        self.vault = FakeVault()

    def register(self, server: aio.Server) -> None:
        pii_pb2_grpc.add_PiiServiceServicer_to_server(self.vault, server)  # type: ignore[no-untyped-call]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def audited_turn() -> session_pb2.TurnRecord:
    turn = session_pb2.TurnRecord(
        turn_id="t1",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        customer_text="Is flight UA 123 on time? My card is <CARD_1>",
        reply_text="UA 123 was cancelled by a storm.",
        status=session_pb2.TURN_STATUS_COMPLETED,
        channel="web",
        intent=events_pb2.IntentDetected(
            name="flight_status", confidence=0.93, classifier="embedded"
        ),
        verdicts=[
            common_pb2.PolicyVerdict(
                stage=common_pb2.POLICY_STAGE_INPUT,
                action=common_pb2.POLICY_ACTION_ALLOW,
                rule_id="topic.airline",
            )
        ],
        plan=common_pb2.Plan(
            id="p1",
            flow="flight_status",
            steps=[common_pb2.PlanStep(id="s1", tool="getFlightStatus")],
        ),
        steps=[
            common_pb2.StepResult(
                step_id="s1",
                tool="getFlightStatus",
                outcome=common_pb2.STEP_OUTCOME_SUCCEEDED,
                http_status=200,
                latency=duration_pb2.Duration(nanos=120_000_000),
                attempts=2,
            )
        ],
        fallbacks=[
            events_pb2.Fallback(
                reason=events_pb2.FALLBACK_REASON_MODEL_UNAVAILABLE,
                action=events_pb2.FALLBACK_ACTION_EMBEDDED_ENGINE,
            )
        ],
        usage=common_pb2.TokenUsage(input_tokens=120, output_tokens=45, model="gpt-4.1"),
        latency=duration_pb2.Duration(nanos=812_000_000),
    )
    turn.started_at.FromJsonString("2026-11-24T10:00:00Z")
    return turn


def test_render_shows_the_conversation_and_what_the_system_did() -> None:
    session = session_pb2.Session(
        id="s1", version=1, customer_id="C-1001", slots={"flight_number": "UA123"}
    )
    session.history.add(role="customer", text="Is flight UA 123 on time?", turn_id="t1")

    text = render(session, [audited_turn()])

    for expected in (
        "session s1 · version 1 · customer C-1001 · identity verified: no",
        "slots: flight_number=UA123",
        "  customer   Is flight UA 123 on time?",
        "audit trail (1 turns)",
        "1. turn t1 · 2026-11-24T10:00:00Z · completed · 812 ms · via web · trace 4bf92f35",
        "intent flight_status (0.93, embedded)",
        "policy input allow [topic.airline]",
        "plan p1 from flow flight_status: getFlightStatus",
        "step s1 getFlightStatus -> succeeded (HTTP 200, 120 ms, 2 attempts)",
        "fallback model_unavailable -> embedded_engine",
        "tokens 120 in / 45 out (gpt-4.1)",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"


Servers = tuple[GrpcServer, FakePiiService, Path]


@pytest.fixture
def servers(loop_thread: LoopThread, tmp_path: Path) -> Iterator[Servers]:
    settings = load_settings(data_dir=tmp_path, session={"port": 0})
    sessions = start_service(loop_thread, build(settings))
    pii = FakePiiService()
    vault = start_service(loop_thread, pii)
    config = tmp_path / "switchboard.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path),
                "session": {"address": sessions.target},
                "pii": {"address": vault.target},
            }
        )
    )
    yield sessions, pii, config
    loop_thread.run(vault.stop())
    loop_thread.run(sessions.stop())


def test_show_prints_a_session_and_its_turns(
    servers: Servers,
) -> None:
    server, _, config = servers
    with grpc.insecure_channel(server.target) as channel:
        stub: Any = session_pb2_grpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]
        stub.AppendTurn(
            session_pb2.AppendTurnRequest(session_id="s1", expected_version=0, turn=audited_turn())
        )

    shown = CliRunner().invoke(session, ["show", "s1", "--config", str(config)])
    as_json = CliRunner().invoke(session, ["show", "s1", "--json", "--config", str(config)])
    missing = CliRunner().invoke(session, ["show", "nobody", "--config", str(config)])

    assert shown.exit_code == 0, shown.output
    assert "step s1 getFlightStatus -> succeeded" in shown.output
    assert "  assistant  UA 123 was cancelled by a storm." in shown.output
    document = json.loads(as_json.output)
    assert document["session"]["version"] == "1"
    assert [t["turnId"] for t in document["turns"]] == ["t1"]
    assert missing.exit_code == 1
    assert "NOT_FOUND: session nobody not found" in missing.output


def test_erase_removes_the_vault_and_the_session(
    servers: Servers,
) -> None:
    server, pii, config = servers
    with grpc.insecure_channel(server.target) as channel:
        stub: Any = session_pb2_grpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]
        stub.AppendTurn(
            session_pb2.AppendTurnRequest(session_id="s1", expected_version=0, turn=audited_turn())
        )

        declined = CliRunner().invoke(
            session, ["erase", "s1", "--config", str(config)], input="n\n"
        )
        assert declined.exit_code == 1 and pii.vault.erased == []

        erased = CliRunner().invoke(session, ["erase", "s1", "--yes", "--config", str(config)])
        assert erased.exit_code == 0, erased.output
        assert "session s1: erased; PII vault: 3 tokens erased" in erased.output
        assert pii.vault.erased == ["s1"]
        with pytest.raises(grpc.RpcError) as gone:
            stub.GetSession(session_pb2.GetSessionRequest(session_id="s1"))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
