"""Fan-out efficiency: a turn's latency against its critical path and against the sum of its calls.

    .venv/bin/python benchmarks/fanout.py                 # 20 turns, realistic latencies
    .venv/bin/python benchmarks/fanout.py --turns 50 --model-ms 300 --booking-ms 120

Runs `switchboard up` on free ports with the planner's model pointed at the scripted model
server, and gives the mocks constant latencies through their fault configuration (booking
120 ms, CRM 60 ms, payments 150 ms, claims 100 ms, knowledge 40 ms; the model waits 300 ms
before its first token). The model plans C-1001's storm rebooking as a DAG that touches
booking, CRM and payments:

    reservation (booking) ──▶ alternatives (booking)
    fare rules (booking) · customer (crm) · loyalty (crm) · cards (payments)   [independent]

then composes the reply (a second model call). Turns run one after another, so each one's
figures are its own. For each turn, the calls are read back from the mocks' request logs
(start and end of every backend call) and the model's request log (one call = its first-token
wait), and:

- critical path = the slowest call made before planning (the router's identity lookup in the
  CRM) + planning call + the slowest dependency chain of the plan's backend calls + compose call
- sequential sum = every model call + every backend call (what a one-at-a-time pipeline pays)
- overhead = turn latency (SendTurn until its stream ends) - critical path

Prints per-turn figures and their percentiles, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from benchkit import UpMesh, percentile

from services.runtime.convert import struct_to_dict
from switchboard.v1 import router_pb2, router_pb2_grpc

TEXT = "My flight UA 123 was cancelled by the storm. Can you rebook me?"
CUSTOMER = "C-1001"
BACKENDS = ("booking", "crm", "payments", "claims", "knowledge")

PLAN: list[dict[str, Any]] = [
    {
        "id": "reservation",
        "tool": "getReservation",
        "arguments": {"customer_id": CUSTOMER, "pnr": "SBX7Q2"},
    },
    {"id": "fare", "tool": "getFareRules", "arguments": {"customer_id": CUSTOMER, "pnr": "SBX7Q2"}},
    {"id": "customer", "tool": "getCustomer", "arguments": {"customer_id": CUSTOMER}},
    {"id": "loyalty", "tool": "getLoyaltyAccount", "arguments": {"customer_id": CUSTOMER}},
    {"id": "cards", "tool": "listPaymentMethods", "arguments": {"customer_id": CUSTOMER}},
    {
        "id": "alternatives",
        "tool": "searchFlights",
        "arguments": {
            "origin": "${steps.reservation.segments.0.origin}",
            "destination": "${steps.reservation.segments.0.destination}",
            "date": "${steps.reservation.segments.0.date}",
        },
        "depends_on": ["reservation"],
        "description": "same-route flights that day",
    },
]
REPLY = (
    "Your flight UA 123 tomorrow was cancelled by the winter storm, so the change is free. "
    "The next flight, UA 457, is full; UA 891 later that day has seats. Shall I move you to it?"
)


def script(model_delay_s: float) -> list[dict[str, Any]]:
    """The scripted model's entries: the deep plan, a fast-tier plan, and the composed reply."""
    fault = {"first_token_delay_s": model_delay_s}
    return [
        {
            "name": "deep plan",
            "match": {"forced_tool": "submit_plan"},
            "reply": {"tool_calls": [{"name": "submit_plan", "arguments": {"steps": PLAN}}]},
            "fault": fault,
        },
        {
            "name": "fast plan (independent steps only)",
            "match": {"offers_tool": "getReservation", "last_role": "user"},
            "reply": {
                "tool_calls": [
                    {"name": s["tool"], "arguments": s["arguments"]}
                    for s in PLAN
                    if "depends_on" not in s
                ]
            },
            "fault": fault,
        },
        {"name": "compose", "match": {"stream": True}, "reply": {"content": REPLY}, "fault": fault},
    ]


def faults(latencies_ms: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    return {
        backend: {"default": {"latency": {"distribution": "constant", "mean_ms": ms}}}
        for backend, ms in latencies_ms.items()
    }


@dataclass
class Call:
    tool: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class TurnFigures:
    latency_s: float
    critical_path_s: float
    sequential_s: float
    backend_critical_s: float
    model_calls: int
    backend_calls: int
    steps_ok: int
    fallback: bool

    @property
    def overhead_s(self) -> float:
        return self.latency_s - self.critical_path_s


_REFERENCE = re.compile(r"\$\{steps\.([A-Za-z0-9_-]+)\.")


def dependencies(plan: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Each step's prerequisites: its depends_on plus the steps its arguments refer to."""
    deps: dict[str, set[str]] = {}
    for step in plan:
        found = set(step.get("depends_on") or [])
        found.update(_REFERENCE.findall(json.dumps(step.get("arguments") or {})))
        deps[step["id"]] = found
    return deps


def critical_path(durations: Mapping[str, float], deps: Mapping[str, set[str]]) -> float:
    """The longest chain of durations through the dependency DAG."""
    finish: dict[str, float] = {}

    def end(step: str) -> float:
        if step not in finish:
            finish[step] = durations.get(step, 0.0) + max(
                (end(d) for d in deps.get(step, ()) if d in deps), default=0.0
            )
        return finish[step]

    return max((end(step) for step in deps), default=0.0)


def one_turn(
    stub: router_pb2_grpc.RouterServiceStub,
    http: httpx.Client,
    up: UpMesh,
    session: str,
    model_delay_s: float,
) -> TurnFigures:
    for backend in (*BACKENDS, "model"):
        http.delete(f"{up.mock_url(backend)}/_admin/requests").raise_for_status()
    request = router_pb2.SendTurnRequest(
        session_id=session, text=TEXT, channel="bench", customer_id=CUSTOMER
    )
    plan: list[dict[str, Any]] = []
    steps_ok = 0
    fallback = False
    started = time.perf_counter()
    for response in stub.SendTurn(request, timeout=30):
        event = response.event
        kind = event.WhichOneof("event")
        if kind == "plan":
            plan = [
                {
                    "id": s.id,
                    "tool": s.tool,
                    "arguments": struct_to_dict(s.arguments),
                    "depends_on": list(s.depends_on),
                }
                for s in event.plan.plan.steps
            ]
        elif kind == "step_finished":
            steps_ok += event.step_finished.result.http_status == 200
        elif kind == "fallback":
            fallback = True
        elif kind == "error":
            raise RuntimeError(f"turn failed: {event.error}")
    latency = time.perf_counter() - started
    calls: list[Call] = []
    for backend in BACKENDS:
        log = http.get(f"{up.mock_url(backend)}/_admin/requests").json()["requests"]
        calls.extend(
            Call(r["operation_id"], r["started_at"], r["ended_at"]) for r in log if r["ended_at"]
        )
    model_calls = len(http.get(f"{up.mock_url('model')}/_admin/requests").json())
    by_tool: dict[str, float] = {}
    for call in calls:  # retries of one tool add up on its step
        by_tool[call.tool] = by_tool.get(call.tool, 0.0) + call.seconds
    step_durations = {step["id"]: by_tool.get(step["tool"], 0.0) for step in plan}
    # Calls outside the plan (the router's identity lookup in the CRM) come before planning:
    # the slowest of them is on the path too.
    planned = {step["tool"] for step in plan}
    before_plan = max((c.seconds for c in calls if c.tool not in planned), default=0.0)
    backend_critical = before_plan + critical_path(step_durations, dependencies(plan))
    model_s = model_calls * model_delay_s
    return TurnFigures(
        latency_s=latency,
        critical_path_s=model_s + backend_critical,
        sequential_s=model_s + sum(c.seconds for c in calls),
        backend_critical_s=backend_critical,
        model_calls=model_calls,
        backend_calls=len(calls),
        steps_ok=steps_ok,
        fallback=fallback,
    )


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=20, help="turns, one after another")
    parser.add_argument("--model-ms", type=float, default=300.0, help="model's first-token wait")
    parser.add_argument("--booking-ms", type=float, default=120.0)
    parser.add_argument("--crm-ms", type=float, default=60.0)
    parser.add_argument("--payments-ms", type=float, default=150.0)
    parser.add_argument("--claims-ms", type=float, default=100.0)
    parser.add_argument("--knowledge-ms", type=float, default=40.0)
    args = parser.parse_args()
    latencies = {
        "booking": args.booking_ms,
        "crm": args.crm_ms,
        "payments": args.payments_ms,
        "claims": args.claims_ms,
        "knowledge": args.knowledge_ms,
    }
    model_delay_s = args.model_ms / 1000
    up = UpMesh({"SWITCHBOARD_PLANNER__MODEL__API_KEY": "bench"})
    up.env["SWITCHBOARD_PLANNER__MODEL__BASE_URL"] = f"{up.mock_url('model')}/v1"
    figures: list[TurnFigures] = []
    with up, httpx.Client(timeout=10) as http, grpc.insecure_channel(up.target("router")) as ch:
        scripted = http.put(f"{up.mock_url('model')}/_admin/script", json=script(model_delay_s))
        scripted.raise_for_status()
        stub = router_pb2_grpc.RouterServiceStub(ch)
        one_turn(stub, http, up, "fanout-warm", model_delay_s)  # warm-up, not counted
        for backend, config in faults(latencies).items():
            http.put(f"{up.mock_url(backend)}/_admin/faults", json=config).raise_for_status()
        for n in range(args.turns):
            turn = one_turn(stub, http, up, f"fanout-{n}", model_delay_s)
            figures.append(turn)
            print(
                f"turn {n:3d}: {ms(turn.latency_s):7.1f} ms  critical path "
                f"{ms(turn.critical_path_s):7.1f}  sum {ms(turn.sequential_s):7.1f}  "
                f"overhead {ms(turn.overhead_s):6.1f}  model calls {turn.model_calls}  "
                f"backend calls {turn.backend_calls}  steps ok {turn.steps_ok}"
                + ("  FALLBACK" if turn.fallback else ""),
                flush=True,
            )
    if not figures or any(f.backend_calls == 0 for f in figures):
        sys.exit("some turns made no backend call: the plan did not run (see the lines above)")
    overheads = [f.overhead_s for f in figures]
    result = {
        "bench": "fanout",
        "turns": len(figures),
        "latency_ms_p50": ms(percentile([f.latency_s for f in figures], 0.5)),
        "critical_path_ms_p50": ms(percentile([f.critical_path_s for f in figures], 0.5)),
        "sequential_ms_p50": ms(percentile([f.sequential_s for f in figures], 0.5)),
        "backend_critical_path_ms_p50": ms(
            percentile([f.backend_critical_s for f in figures], 0.5)
        ),
        "overhead_ms_p50": ms(percentile(overheads, 0.5)),
        "overhead_ms_p99": ms(percentile(overheads, 0.99)),
        "ratio_vs_critical_path": round(
            percentile([f.latency_s / f.critical_path_s for f in figures], 0.5), 3
        ),
        "ratio_vs_sequential": round(
            percentile([f.latency_s / f.sequential_s for f in figures], 0.5), 3
        ),
        "model_calls_per_turn": figures[0].model_calls,
        "backend_calls_per_turn": figures[0].backend_calls,
        "fallbacks": sum(f.fallback for f in figures),
        "latencies_ms": latencies | {"model_first_token": args.model_ms},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
