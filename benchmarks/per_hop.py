"""Per-hop cost: what each service hop and the Envoy gateway add to a call, p50 and p99.

    .venv/bin/python benchmarks/per_hop.py                  # 300 calls per hop, 200 turns
    .venv/bin/python benchmarks/per_hop.py --calls 1000 --turns 300

Runs `switchboard up` on free ports (every service its own process, Envoy in front of the
router) and times, one call at a time so each figure is unloaded latency:

- **gRPC hop**: the standard health Check on each service — the cost of one hop through
  grpc.aio and the runtime's interceptors with (almost) no work behind it;
- **unary work**: one representative call per service (pii Redact, governance CheckInput,
  session GetSession, tool-broker ExecuteTool of getFlightStatus) — the call minus the gRPC hop
  is the service's own work;
- **backend**: the same getFlightStatus straight to the booking mock over HTTP, so
  ExecuteTool minus it is the broker's cost (governance check, PII restore and redact, schema
  validation: two more hops);
- **turn**: "Is flight UA 123 on time?" through SendTurn direct to the router, and the same turn
  through the gateway (gRPC proxied by Envoy), alternating: the difference is the gateway's cost.

Then the router's turn against its parts: p50/p99 of the router's own spans over the timed turns
(switchboard.turn, each stage, classification, and its client span of each call to a peer),
read from its local span file once the mesh has stopped.

Each figure is printed with its p50/p99; "added" rows subtract p50 from p50 and p99 from p99
(an approximation: the percentiles of a difference are not the difference of percentiles).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable
from typing import Any

import grpc
import httpx
from benchkit import Summary, UpMesh, summarize
from benchkit.spans import span_durations
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.convert import dict_to_struct
from switchboard.v1 import (
    common_pb2,
    governance_pb2,
    governance_pb2_grpc,
    pii_pb2,
    pii_pb2_grpc,
    router_pb2,
    router_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    tool_broker_pb2,
    tool_broker_pb2_grpc,
)

SERVICES = ("router", "planner", "tool_broker", "governance", "pii", "session")
TURN_TEXT = "Is flight UA 123 on time?"


def timed(call: Callable[[], object], count: int, warm: int = 20) -> Summary:
    for _ in range(warm):
        call()
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return summarize(seconds)


def timed_pair(
    first: Callable[[], object], second: Callable[[], object], count: int, warm: int = 5
) -> tuple[Summary, Summary]:
    """Time two calls alternately, so drifting load on the machine weighs on both alike."""
    for _ in range(warm):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(count):
        for call, seconds in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - start)
    return summarize(times[0]), summarize(times[1])


def health_check(channel: grpc.Channel) -> Callable[[], object]:
    health = health_pb2_grpc.HealthStub(channel)

    def call() -> object:
        return health.Check(health_pb2.HealthCheckRequest(), timeout=5)

    return call


def turn_call(stub: router_pb2_grpc.RouterServiceStub, prefix: str) -> Callable[[], object]:
    counter = iter(range(10**9))

    def call() -> None:
        request = router_pb2.SendTurnRequest(
            session_id=f"{prefix}-{next(counter)}", text=TURN_TEXT, channel="bench"
        )
        kinds = [r.event.WhichOneof("event") for r in stub.SendTurn(request, timeout=30)]
        if kinds[-1] != "turn_completed":
            raise RuntimeError(f"the turn did not complete: {kinds}")

    return call


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="calls per unary hop")
    parser.add_argument(
        "--turns", type=int, default=200, help="turns direct and via gateway (alternating)"
    )
    args = parser.parse_args()
    rows: dict[str, Summary] = {}
    up = UpMesh(keep_data=True)  # the router's span file is read once the mesh has stopped
    with up, httpx.Client(timeout=10) as http:
        channels = {name: grpc.insecure_channel(up.target(name)) for name in SERVICES}
        gateway = grpc.insecure_channel(up.gateway)
        try:
            for name, channel in channels.items():
                rows[f"grpc_hop.{name}"] = timed(health_check(channel), args.calls)
            pii = pii_pb2_grpc.PiiServiceStub(channels["pii"])
            rows["work.pii.Redact"] = timed(
                lambda: pii.Redact(
                    pii_pb2.RedactRequest(
                        session_id="hop", text="My card is 4242 4242 4242 4242, mail a@b.co"
                    ),
                    timeout=5,
                ),
                args.calls,
            )
            governance = governance_pb2_grpc.GovernanceServiceStub(channels["governance"])
            rows["work.governance.CheckInput"] = timed(
                lambda: governance.CheckInput(
                    governance_pb2.CheckInputRequest(
                        session_id="hop", text=TURN_TEXT, channel="bench"
                    ),
                    timeout=5,
                ),
                args.calls,
            )
            session = session_pb2_grpc.SessionServiceStub(channels["session"])
            rows["work.session.GetSession"] = timed(
                lambda: session.GetSession(
                    session_pb2.GetSessionRequest(session_id="hop", create=True), timeout=5
                ),
                args.calls,
            )
            broker = tool_broker_pb2_grpc.ToolBrokerServiceStub(channels["tool_broker"])
            step = common_pb2.PlanStep(
                id="status",
                tool="getFlightStatus",
                arguments=dict_to_struct({"flight_number": "UA123"}),
            )

            turn_ids = iter(range(10**9))

            def execute() -> None:
                # A turn has a tool-call budget: each call is its own turn.
                request = tool_broker_pb2.ExecuteToolRequest(
                    session_id="hop", turn_id=f"hop-{next(turn_ids)}", step=step
                )
                reply: Any = broker.ExecuteTool(request, timeout=10)
                if reply.result.http_status != 200:
                    raise RuntimeError(f"ExecuteTool failed: {reply.result}")

            rows["work.tool_broker.ExecuteTool"] = timed(execute, args.calls)
            status_url = f"{up.mock_url('booking')}/flights/UA123/status"
            rows["backend.booking.http"] = timed(
                lambda: http.get(status_url).raise_for_status(), args.calls
            )
            router = router_pb2_grpc.RouterServiceStub(channels["router"])
            via_gateway = router_pb2_grpc.RouterServiceStub(gateway)
            rows["turn.direct"], rows["turn.gateway"] = timed_pair(
                turn_call(router, "direct"), turn_call(via_gateway, "gateway"), args.turns
            )
        finally:
            for channel in [*channels.values(), gateway]:
                channel.close()

    # The router turn against its parts: the router's own spans of every turn it served (the
    # timed ones and their warm-ups), stages and its client span of each call to a peer.
    spans = span_durations(up.data_dir / "telemetry", "router")
    shutil.rmtree(up.data_dir, ignore_errors=True)
    parts = {
        name: summarize(seconds)
        for name, seconds in spans.items()
        if name.startswith(("switchboard.", "/switchboard.v1."))
    }

    def added(a: str, b: str) -> dict[str, float]:
        return {
            "p50_ms": round(rows[a].p50_ms - rows[b].p50_ms, 2),
            "p99_ms": round(rows[a].p99_ms - rows[b].p99_ms, 2),
        }

    derived = {
        f"{name}_work": added(name, f"grpc_hop.{name.split('.')[1]}")
        for name in rows
        if name.startswith("work.")
    }
    derived["tool_broker_over_backend"] = added(
        "work.tool_broker.ExecuteTool", "backend.booking.http"
    )
    derived["gateway"] = added("turn.gateway", "turn.direct")
    print(f"{'hop':<34} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    for name, summary in rows.items():
        print(
            f"{name:<34} {summary.count:>5} {summary.p50_ms:>9.2f} "
            f"{summary.p95_ms:>9.2f} {summary.p99_ms:>9.2f}"
        )
    print("\nthe router's turn and its parts (router spans, p50/p99 ms, calls per turn)")
    turns = max(parts["switchboard.turn"].count if "switchboard.turn" in parts else 1, 1)
    for name, summary in sorted(parts.items(), key=lambda item: -item[1].p50_ms):
        print(
            f"  {name:<56} {summary.p50_ms:>8.2f} {summary.p99_ms:>8.2f} "
            f"{summary.count / turns:>6.2f}"
        )
    print("\nadded by a hop (p50 - p50, p99 - p99)")
    for name, figures in derived.items():
        print(f"{name:<40} p50 {figures['p50_ms']:>8.2f} ms   p99 {figures['p99_ms']:>8.2f} ms")
    print(
        json.dumps(
            {
                "bench": "per_hop",
                "hops": {
                    name: {"p50_ms": s.p50_ms, "p99_ms": s.p99_ms} for name, s in rows.items()
                },
                "added": derived,
                "router_turn_parts_p50_ms": {name: p.p50_ms for name, p in parts.items()},
                "gateway_added_ms_p50": derived["gateway"]["p50_ms"],
                "gateway_added_ms_p99": derived["gateway"]["p99_ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
