"""Real parts for the tool-broker tests: an HTTP backend that honours tests/.../travel.yaml, and
minimal gRPC stand-ins for governance and pii (the real services are tested on their own).

The backend records every request it receives (with its start and end on the monotonic clock),
so tests can show what was and was not sent, and whether calls overlapped.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from grpc import aio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.runtime.convert import dict_to_struct, struct_to_dict
from switchboard.v1 import common_pb2, governance_pb2, governance_pb2_grpc, pii_pb2, pii_pb2_grpc

CONTRACT = Path(__file__).parent / "contracts" / "travel.yaml"

FLIGHTS: dict[str, dict[str, Any]] = {
    "UA123": {"origin": "SFO", "destination": "ORD", "status": "cancelled", "reason": "storm"},
    "UA456": {"origin": "SFO", "destination": "ORD", "status": "on_time", "reason": None},
    "UA789": {"origin": "SFO", "destination": "ORD", "status": "delayed", "reason": "crew"},
}


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    start: float
    end: float = 0.0


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


@dataclass
class TravelBackend:
    """The travel backend's state and its faults, which tests set directly."""

    log: list[Logged] = field(default_factory=list)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    #: requests held until this many are in flight together (0: none held)
    gate_size: int = 0
    #: flight numbers answered with 503
    failing: set[str] = field(default_factory=set)
    #: flight numbers answered with a status the contract does not allow
    lying: set[str] = field(default_factory=set)
    #: seconds the first request of each idempotency key (or note) is held before it is answered
    first_attempt_delay_s: float = 0.0
    _gate: asyncio.Event = field(default_factory=asyncio.Event)
    _in_gate: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.log.clear()
        self.charges.clear()
        self.notes.clear()
        self.gate_size = 0
        self.failing.clear()
        self.lying.clear()
        self.first_attempt_delay_s = 0.0
        self._gate = asyncio.Event()
        self._in_gate = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/flights/{flight_number}/status", self._status, methods=["GET"]),
                Route("/flights", self._search, methods=["GET"]),
                Route("/charges", self._charge, methods=["POST"]),
                Route("/notes", self._note, methods=["POST"]),
            ]
        )

    async def _logged(self, request: Request) -> Logged:
        body = await request.json() if request.method == "POST" else None
        entry = Logged(
            request.method,
            request.url.path,
            dict(request.query_params),
            dict(request.headers),
            body,
            time.monotonic(),
        )
        self.log.append(entry)
        if self.gate_size:
            self._in_gate += 1
            if self._in_gate >= self.gate_size:
                self._gate.set()
            # Held until the others arrive; a sequential caller never gets there, and times out.
            try:
                await asyncio.wait_for(self._gate.wait(), timeout=2.0)
            except TimeoutError:
                pass
        return entry

    async def _status(self, request: Request) -> Response:
        entry = await self._logged(request)
        number = request.path_params["flight_number"]
        try:
            if number in self.failing:
                return _problem(503, "Service unavailable", "the status feed is down")
            flight = FLIGHTS.get(number)
            if flight is None:
                return _problem(404, "Flight not found", f"no flight {number}")
            status = "late" if number in self.lying else flight["status"]
            body = {
                "flight_number": number,
                "origin": flight["origin"],
                "destination": flight["destination"],
                "status": status,
                "estimated_departure": None,
                "delay_minutes": 0,
                "reason": flight["reason"],
            }
            return JSONResponse(body)
        finally:
            entry.end = time.monotonic()

    async def _search(self, request: Request) -> Response:
        entry = await self._logged(request)
        origin, destination = request.query_params["origin"], request.query_params["destination"]
        found = [
            {"flight_number": n, "status": f["status"], "delay_minutes": 0, **f}
            for n, f in FLIGHTS.items()
            if (f["origin"], f["destination"]) == (origin, destination)
            and f["status"] != "cancelled"
        ]
        entry.end = time.monotonic()
        return JSONResponse(found)

    async def _charge(self, request: Request) -> Response:
        entry = await self._logged(request)
        key = request.headers.get("idempotency-key")
        body = entry.body
        if not key:
            return _problem(400, "Missing Idempotency-Key", "every charge needs one")
        if not re.fullmatch(r"[0-9]{16}", str(body.get("card_number", ""))):
            return _problem(400, "Invalid card", "card_number must be 16 digits")
        first = key not in self.charges
        if first:
            self.charges[key] = {
                "charge_id": f"ch_{next(self._ids)}",
                "amount": body["amount"],
                "currency": body["currency"],
                "card_last4": body["card_number"][-4:],
            }
            # The charge is made; the answer is late, as when a network stalls after the effect.
            await asyncio.sleep(self.first_attempt_delay_s)
        entry.end = time.monotonic()
        return JSONResponse(self.charges[key], status_code=201)

    async def _note(self, request: Request) -> Response:
        entry = await self._logged(request)
        self.notes.append(entry.body)
        await asyncio.sleep(self.first_attempt_delay_s)
        entry.end = time.monotonic()
        return JSONResponse({"note_id": f"n_{len(self.notes)}"}, status_code=201)


class HttpServer:
    """A uvicorn server on 127.0.0.1, on a socket bound before it starts (so no wait is needed)."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
        # listening socket says it is TCP (with proto 0, each request can wait ~40 ms for an ACK).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StandInGovernance(governance_pb2_grpc.GovernanceServiceServicer):
    """Allows every tool call except those to the tools in ``blocked``, and those in
    ``confirming`` until the session says ``confirmed``; records what it saw."""

    def __init__(self) -> None:
        self.blocked: set[str] = set()
        self.confirming: set[str] = set()
        self.seen: list[governance_pb2.CheckToolCallRequest] = []

    async def CheckToolCall(
        self, request: governance_pb2.CheckToolCallRequest, context: Any
    ) -> governance_pb2.CheckToolCallResponse:
        self.seen.append(request)
        confirmed = struct_to_dict(request.session).get("confirmed") is True
        if request.step.tool in self.confirming and not confirmed:
            verdict = common_pb2.PolicyVerdict(
                stage=common_pb2.POLICY_STAGE_TOOL_CALL,
                action=common_pb2.POLICY_ACTION_CONFIRM,
                rule_id="test/confirm-charges",
                reason="charges need the customer's yes",
                message="Please confirm.",
            )
        elif request.step.tool in self.blocked:
            verdict = common_pb2.PolicyVerdict(
                stage=common_pb2.POLICY_STAGE_TOOL_CALL,
                action=common_pb2.POLICY_ACTION_BLOCK,
                rule_id="test/no-charges",
                reason="charges are blocked in this test",
                message="I can't do that.",
            )
        else:
            verdict = common_pb2.PolicyVerdict(
                stage=common_pb2.POLICY_STAGE_TOOL_CALL,
                action=common_pb2.POLICY_ACTION_ALLOW,
                rule_id="default",
            )
        return governance_pb2.CheckToolCallResponse(verdict=verdict, matched=[verdict])


_PLACEHOLDER = re.compile(r"<([A-Z]+)_[0-9]+>")


class StandInPii(pii_pb2_grpc.PiiServiceServicer):
    """A vault with fixed entries: restores allowed placeholders, masks their originals back."""

    def __init__(self, vault: dict[str, str]) -> None:
        self.vault = vault  # placeholder -> original
        self.restores: list[pii_pb2.RestoreRequest] = []
        self.redactions: list[dict[str, Any]] = []

    async def Restore(
        self, request: pii_pb2.RestoreRequest, context: Any
    ) -> pii_pb2.RestoreResponse:
        self.restores.append(request)
        refused: list[str] = []

        def restore(text: str) -> str:
            def one(match: re.Match[str]) -> str:
                if match.group(1) in request.allowed_types and match.group(0) in self.vault:
                    return self.vault[match.group(0)]
                refused.append(match.group(0))
                return match.group(0)

            return _PLACEHOLDER.sub(one, text)

        data = _map_strings(struct_to_dict(request.data), restore)
        return pii_pb2.RestoreResponse(data=dict_to_struct(data), refused=refused)

    async def RedactData(
        self, request: pii_pb2.RedactDataRequest, context: Any
    ) -> pii_pb2.RedactDataResponse:
        def redact(text: str) -> str:
            for placeholder, original in self.vault.items():
                text = text.replace(original, placeholder)
            return text

        self.redactions.append(struct_to_dict(request.data))
        data = _map_strings(struct_to_dict(request.data), redact)
        return pii_pb2.RedactDataResponse(data=dict_to_struct(data))


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    return value


class StandIns:
    """Governance and pii stand-ins served together on one port."""

    name = "stand-ins"
    service_names: Sequence[str] = ("switchboard.v1.GovernanceService", "switchboard.v1.PiiService")

    def __init__(self, governance: StandInGovernance, pii: StandInPii) -> None:
        self.governance = governance
        self.pii = pii

    def register(self, server: aio.Server) -> None:
        governance_pb2_grpc.add_GovernanceServiceServicer_to_server(self.governance, server)
        pii_pb2_grpc.add_PiiServiceServicer_to_server(self.pii, server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
