"""Test support: an asyncio loop in a background thread that hosts real servers on loopback.

Tests drive the servers with ordinary synchronous gRPC and HTTP clients, the way a channel
service would, while the servers run on their own loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from services.config import SERVICES, Settings, load_settings
from services.runtime.server import GrpcServer, Service
from switchboard.v1 import events_pb2, router_pb2, router_pb2_grpc

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


def start_service(loop: LoopThread, service: Service) -> GrpcServer:
    """Start a service on 127.0.0.1 with an ephemeral port; ``server.target`` is its address."""
    server = GrpcServer(service, "127.0.0.1", 0, stop_grace_s=0.5)
    loop.run(server.start())
    return server


def ephemeral_settings(data_dir: Path) -> Settings:
    """Default settings with every port picked by the OS, so tests never collide."""
    settings = load_settings(data_dir=str(data_dir))
    for name in SERVICES:
        settings.service(name).port = 0
        settings.service(name).stop_grace_s = 0.5
    settings.mocks.ports = dict.fromkeys(settings.mocks.ports, 0)
    settings.telemetry.local_dir = ""
    # The embedded engine, whatever OPENAI_* variables the environment holds: tests never call
    # a real model. Tests of the model tiers configure the scripted model server explicitly.
    settings.planner.model.enabled = False
    return settings


def free_ports(count: int) -> list[int]:
    """Ports on 127.0.0.1 that were free a moment ago (all bound at once, so all distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


#: the intents each shipped pack declares; intent packs and flows must both match it
SHIPPED_INTENTS: dict[str, list[str]] = {
    "airline": [
        "flight_status",
        "rebook_flight",
        "cancel_reservation",
        "refund_request",
        "baggage_policy",
        "seat_selection",
        "upgrade_with_miles",
        "boarding_pass",
        "loyalty_balance",
        "compensation_claim",
        "baggage_issue",
        "lost_item",
    ],
    "sportsbook": [
        "withdrawal_status",
        "withdrawal_request",
        "deposit_limit",
        "self_exclusion",
        "bet_settlement",
        "account_verification",
        "payment_methods",
        "wallet_balance",
    ],
    "dental": ["eligibility_check", "claim_status", "benefits_summary", "find_provider"],
    "general": [
        "greeting",
        "goodbye",
        "thanks",
        "human_agent",
        "confirm",
        "decline",
        "case_status",
        "complaint",
        "verify_identity",
    ],
}


@dataclass(frozen=True)
class Turn:
    """The events of one finished SendTurn call, in the order the router streamed them."""

    events: list[events_pb2.TurnEvent]

    @property
    def kinds(self) -> list[str]:
        return [str(e.WhichOneof("event")) for e in self.events]

    @property
    def last(self) -> events_pb2.TurnEvent:
        return self.events[-1]

    def of(self, kind: str) -> list[events_pb2.TurnEvent]:
        """The events of one kind (``"plan"``, ``"step_finished"``, ...)."""
        return [e for e in self.events if e.WhichOneof("event") == kind]

    def of_kind(self, kind: str) -> list[Any]:
        """The payloads of the events of one kind (the ``Plan``, the ``StepFinished``, ...)."""
        return [getattr(e, kind) for e in self.of(kind)]

    @property
    def trace_id(self) -> str:
        return str(self.events[0].trace_id)

    @property
    def turn_id(self) -> str:
        return str(self.events[0].turn_id)

    @property
    def reply(self) -> str:
        (completed,) = self.of_kind("turn_completed")
        return str(completed.reply)


def send_turn(
    target: str,
    session_id: str,
    text: str,
    customer_id: str = "",
    *,
    channel: str = "test",
    timeout: float = 20.0,
) -> Turn:
    """Run one turn over SendTurn against the router at ``target``; a stream that does not end
    by ``timeout`` raises DEADLINE_EXCEEDED (tests treat that as a hung turn)."""
    request = router_pb2.SendTurnRequest(
        session_id=session_id, text=text, customer_id=customer_id, channel=channel
    )
    with grpc.insecure_channel(target) as connection:
        stub = router_pb2_grpc.RouterServiceStub(connection)
        return Turn([r.event for r in stub.SendTurn(request, timeout=timeout)])
