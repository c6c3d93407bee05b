"""Broker fan-out: how close a plan of N independent steps gets to the latency of one step.

    .venv/bin/python benchmarks/broker_fanout.py                 # N = 1 4 8 16, L = 100 ms
    .venv/bin/python benchmarks/broker_fanout.py --steps 1 32 --latency-ms 50 --calls 500
    .venv/bin/python benchmarks/broker_fanout.py --real-peers     # the real governance and pii

Everything runs in this process on 127.0.0.1: an HTTP backend whose one operation answers after
L ms (and one that answers at once), the tool-broker, and governance and pii — minimal stand-ins
that allow every call and mask nothing, unless --real-peers builds the real services. A plain
gRPC client drives the broker from the main thread while the servers share one event loop in
another thread, so every figure includes that contention.

Prints, for each N, the plan's latency divided by L (goal: close to 1; sequential execution
gives N), and the broker's own overhead per call: the ExecuteTool round trip minus the time the
backend spent in its handler, p50/p99 over --calls sequential calls. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc
import uvicorn
import yaml
from grpc import aio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.config import Settings, load_settings  # noqa: E402
from services.runtime.server import GrpcServer, Service  # noqa: E402
from services.tool_broker.service import build  # noqa: E402
from switchboard.v1 import (  # noqa: E402
    common_pb2,
    governance_pb2,
    governance_pb2_grpc,
    pii_pb2,
    pii_pb2_grpc,
    tool_broker_pb2,
    tool_broker_pb2_grpc,
)

T = TypeVar("T")

_JSON_ITEM = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["item"],
            "properties": {"item": {"type": "integer"}},
        }
    }
}
_ITEM = [{"name": "item", "in": "path", "required": True, "schema": {"type": "integer"}}]
CONTRACT = {
    "openapi": "3.1.0",
    "info": {"title": "bench", "version": "1"},
    "paths": {
        "/work/{item}": {
            "get": {
                "operationId": "doWork",
                "summary": "Answers after the configured latency.",
                "parameters": _ITEM,
                "responses": {"200": {"description": "ok", "content": _JSON_ITEM}},
            }
        },
        "/noop/{item}": {
            "get": {
                "operationId": "noop",
                "summary": "Answers at once.",
                "parameters": _ITEM,
                "responses": {"200": {"description": "ok", "content": _JSON_ITEM}},
            }
        },
    },
}


class Backend:
    """The benchmark's HTTP backend; it records the time each request spent in its handler."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.handler_s: list[float] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/work/{item:int}", self._work),
                Route("/noop/{item:int}", self._noop),
            ]
        )

    async def _work(self, request: Request) -> JSONResponse:
        await asyncio.sleep(self.latency_s)
        return JSONResponse({"item": request.path_params["item"]})

    async def _noop(self, request: Request) -> JSONResponse:
        started = time.perf_counter()
        response = JSONResponse({"item": request.path_params["item"]})
        self.handler_s.append(time.perf_counter() - started)
        return response


class AllowAll(governance_pb2_grpc.GovernanceServiceServicer):
    async def CheckToolCall(self, request: Any, context: Any) -> Any:
        verdict = common_pb2.PolicyVerdict(
            stage=common_pb2.POLICY_STAGE_TOOL_CALL,
            action=common_pb2.POLICY_ACTION_ALLOW,
            rule_id="default",
        )
        return governance_pb2.CheckToolCallResponse(verdict=verdict, matched=[verdict])


class MaskNothing(pii_pb2_grpc.PiiServiceServicer):
    async def Restore(self, request: Any, context: Any) -> Any:
        return pii_pb2.RestoreResponse(data=request.data)

    async def RedactData(self, request: Any, context: Any) -> Any:
        return pii_pb2.RedactDataResponse(data=request.data)


class StandIns:
    name: str = "bench-peers"
    service_names: Sequence[str] = ("switchboard.v1.GovernanceService", "switchboard.v1.PiiService")

    def register(self, server: aio.Server) -> None:
        governance_pb2_grpc.add_GovernanceServiceServicer_to_server(AllowAll(), server)
        pii_pb2_grpc.add_PiiServiceServicer_to_server(MaskNothing(), server)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class Loop:
    """An event loop in a daemon thread, hosting the servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)


def _serve_http(loop: Loop, app: Starlette) -> tuple[uvicorn.Server, str]:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says it is TCP; with proto 0, Nagle + delayed ACKs add ~40 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )

    async def start() -> None:
        asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))

    loop.run(start())
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _start(loop: Loop, service: Service) -> GrpcServer:
    server = GrpcServer(service, "127.0.0.1", 0, stop_grace_s=0.5)
    loop.run(server.start())
    return server


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _peers(loop: Loop, real: bool, settings: Settings) -> tuple[GrpcServer, GrpcServer]:
    if not real:
        server = _start(loop, StandIns())
        return server, server
    from services.governance.service import build as build_governance
    from services.pii.service import build as build_pii

    return _start(loop, build_governance(settings)), _start(loop, build_pii(settings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=5, help="plans per N (median reported)")
    parser.add_argument("--calls", type=int, default=300, help="calls for the overhead figure")
    parser.add_argument("--real-peers", action="store_true", help="real governance and pii")
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000

    loop = Loop()
    backend = Backend(latency_s)
    _http, base_url = _serve_http(loop, backend.app())
    with tempfile.TemporaryDirectory() as folder:
        contract = Path(folder) / "bench.yaml"
        contract.write_text(yaml.safe_dump(CONTRACT), encoding="utf-8")
        backends = {"bench": {"openapi": str(contract), "base_url": base_url}}
        base = load_settings(tool_broker={"backends": backends})
        governance, pii = _peers(loop, args.real_peers, base)
        settings = load_settings(
            tool_broker={"backends": backends, "max_concurrency": max(32, max(args.steps))},
            governance={"address": governance.target},
            pii={"address": pii.target},
        )
        broker = _start(loop, build(settings))
        stub = tool_broker_pb2_grpc.ToolBrokerServiceStub(grpc.insecure_channel(broker.target))

        def call(tool: str, item: int) -> common_pb2.StepResult:
            step = common_pb2.PlanStep(id="s", tool=tool)
            step.arguments.update({"item": item})
            # One turn per call: a real turn makes a few calls, and governance budgets them.
            request = tool_broker_pb2.ExecuteToolRequest(
                session_id="b", turn_id=f"{tool}-{item}", step=step
            )
            return stub.ExecuteTool(request, timeout=30).result

        for item in range(20):  # warm the connections and the code paths
            for tool in ("noop", "doWork"):
                warm = call(tool, item)
                if warm.outcome != common_pb2.STEP_OUTCOME_SUCCEEDED:
                    raise SystemExit(f"{tool} failed: {warm.error}")

        fanout: dict[str, float] = {}
        print(f"plan of N independent steps, each {args.latency_ms:g} ms at the backend:")
        for n in args.steps:
            ratios = []
            for repeat in range(args.repeats):
                steps = []
                for i in range(n):
                    step = common_pb2.PlanStep(id=f"s{i}", tool="doWork")
                    step.arguments.update({"item": i})
                    steps.append(step)
                request = tool_broker_pb2.ExecutePlanRequest(
                    session_id="b", turn_id=f"p{n}-{repeat}", plan=common_pb2.Plan(steps=steps)
                )
                started = time.perf_counter()
                events = list(stub.ExecutePlan(request, timeout=60))
                elapsed = time.perf_counter() - started
                outcomes = {
                    e.step_finished.result.outcome
                    for e in events
                    if e.WhichOneof("item") == "step_finished"
                }
                if outcomes != {common_pb2.STEP_OUTCOME_SUCCEEDED}:
                    errors = {
                        e.step_finished.result.error for e in events if e.step_finished.result.error
                    }
                    raise SystemExit(f"a plan of {n} steps did not fully succeed: {errors}")
                ratios.append(elapsed / latency_s)
            fanout[str(n)] = round(statistics.median(ratios), 3)
            print(f"  N={n:<3} plan latency / L = {fanout[str(n)]:.2f}   (sequential would be {n})")

        backend.handler_s.clear()
        overhead_ms = []
        for item in range(args.calls):
            started = time.perf_counter()
            result = call("noop", item)
            elapsed = time.perf_counter() - started
            if result.outcome != common_pb2.STEP_OUTCOME_SUCCEEDED:
                raise SystemExit(f"noop failed: {result.error}")
            overhead_ms.append((elapsed - backend.handler_s[-1]) * 1000)
        p50, p99 = _percentile(overhead_ms, 0.5), _percentile(overhead_ms, 0.99)
        peers = "real governance + pii" if args.real_peers else "stand-in governance + pii"
        print(
            f"broker overhead per call ({peers}, {args.calls} calls): "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
        print(
            json.dumps(
                {
                    "bench": "broker_fanout",
                    "latency_ms": args.latency_ms,
                    "plan_latency_over_l": fanout,
                    "overhead_ms": {"p50": round(p50, 3), "p99": round(p99, 3)},
                    "calls": args.calls,
                    "peers": "real" if args.real_peers else "stand-in",
                }
            )
        )


if __name__ == "__main__":
    main()
