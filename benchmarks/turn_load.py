"""Turn load: drive RouterService.SendTurn at fixed rates and at saturation and print figures.

    .venv/bin/python benchmarks/turn_load.py                      # starts `switchboard up` itself
    .venv/bin/python benchmarks/turn_load.py --workers router=2 --workers tool_broker=2
    .venv/bin/python benchmarks/turn_load.py --rate 20 --rate 40 --concurrency 32 --duration 20
    .venv/bin/python benchmarks/turn_load.py --router 127.0.0.1:50051   # a mesh already running
    .venv/bin/python benchmarks/turn_load.py --in-process         # the whole mesh in this process

By default the benchmark runs `switchboard up` (every service its own process, the embedded
engine, the mock backends) on free ports of 127.0.0.1 and stops it at the end. Each phase is
either open loop (a new turn every 1/rate s, whether or not earlier ones finished) or closed loop
at saturation (--concurrency clients, each sending its next turn when the last one ended).

Prints, per phase: turns/s, latency p50/p95/p99 (SendTurn call to the end of its stream), errors
by code, fallbacks, the mesh's CPU per turn (from /proc: every service process, and per service)
and its resident memory; then one JSON line with every phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
from benchkit import ProcessSample, UpMesh, summarize
from benchkit.procstats import find_processes, machine_busy_seconds
from grpc import aio

from services.config import SERVICES, load_settings
from switchboard.v1 import router_pb2, router_pb2_grpc

#: the mix of turns: (text, customer_id); each runs a different flow of the embedded engine
TURNS = (
    ("Is flight UA 123 on time?", ""),
    ("hello there", ""),
    ("what is my loyalty balance", "C-1001"),
    ("what is the baggage allowance for checked bags?", ""),
)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    first_event: list[float] = field(default_factory=list)


async def one_turn(
    stub: router_pb2_grpc.RouterServiceStub, session: str, n: int, tally: Tally
) -> None:
    text, customer = TURNS[n % len(TURNS)]
    request = router_pb2.SendTurnRequest(
        session_id=session, text=text, channel="bench", customer_id=customer
    )
    start = time.perf_counter()
    first = True
    try:
        async for response in stub.SendTurn(request, timeout=30):
            if first:
                tally.first_event.append(time.perf_counter() - start)
                first = False
            kind = response.event.WhichOneof("event")
            if kind == "fallback":
                tally.fallbacks[str(response.event.fallback.reason)] += 1
            elif kind == "error":
                tally.errors[response.event.error.code or "error"] += 1
                return
    except aio.AioRpcError as error:
        tally.errors[error.code().name] += 1
        return
    tally.latencies.append(time.perf_counter() - start)


class Processes:
    """The mesh's service processes, grouped by service, for CPU and memory readings."""

    def __init__(self, groups: dict[str, list[int]], others: dict[str, list[int]]) -> None:
        self.groups = {name: pids for name, pids in groups.items() if pids}
        self.others = {name: pids for name, pids in others.items() if pids}

    @property
    def all(self) -> list[int]:
        return [pid for pids in self.groups.values() for pid in pids]

    def sample(self) -> dict[str, ProcessSample]:
        return {name: ProcessSample.of(pids) for name, pids in self.groups.items()}

    def sample_others(self) -> dict[str, ProcessSample]:
        """The mock backends and this load generator: on the same cores, not part of the mesh."""
        return {name: ProcessSample.of(pids) for name, pids in self.others.items()}


async def run_phase(
    stub: router_pb2_grpc.RouterServiceStub,
    procs: Processes,
    label: str,
    rate: float,
    concurrency: int,
    duration: float,
) -> dict[str, Any]:
    tally = Tally()
    before, before_other = procs.sample(), procs.sample_others()
    machine_before = machine_busy_seconds()
    start = time.perf_counter()
    if rate > 0:
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while time.perf_counter() - start < duration:
            task = asyncio.create_task(one_turn(stub, f"{label}-{n}", n, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        if tasks:
            await asyncio.gather(*tasks)
    else:

        async def client(k: int) -> None:
            i = 0
            while time.perf_counter() - start < duration:
                # One session per client: a session serves one turn at a time.
                await one_turn(stub, f"{label}-c{k}", k + i, tally)
                i += 1

        await asyncio.gather(*(client(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - start
    after, after_other = procs.sample(), procs.sample_others()
    machine = (machine_busy_seconds() - machine_before) / elapsed
    turns = len(tally.latencies)
    attempted = turns + sum(tally.errors.values())
    latency = summarize(tally.latencies)
    cpu = {name: after[name].cpu_s - before[name].cpu_s for name in after}
    return {
        "phase": f"rate={rate:g}/s" if rate > 0 else f"concurrency={concurrency}",
        "seconds": round(elapsed, 1),
        "turns": turns,
        "turns_per_s": round(turns / elapsed, 1),
        "p50_ms": latency.p50_ms,
        "p95_ms": latency.p95_ms,
        "p99_ms": latency.p99_ms,
        "first_event_p50_ms": summarize(tally.first_event).p50_ms,
        "errors": dict(tally.errors),
        "error_rate": round(sum(tally.errors.values()) / max(attempted, 1), 4),
        "fallbacks": sum(tally.fallbacks.values()),
        "cpu_ms_per_turn": round(sum(cpu.values()) / max(turns, 1) * 1000, 2),
        "cpu_ms_per_turn_by_service": {
            name: round(seconds / max(turns, 1) * 1000, 2) for name, seconds in cpu.items()
        },
        "cores_busy": round(sum(cpu.values()) / elapsed, 2),
        "rss_mib": round(sum(s.rss_kib for s in after.values()) / 1024, 1),
        "rss_mib_by_service": {name: round(s.rss_kib / 1024, 1) for name, s in after.items()},
        "processes": len(procs.all),
        "outside_mesh_cores_busy": {
            name: round((after_other[name].cpu_s - before_other[name].cpu_s) / elapsed, 2)
            for name in after_other
        },
        # Everything busy on the machine; more than the lines above means other work shared
        # the cores during the phase and the throughput figures are low by that much.
        "machine_cores_busy": round(machine, 2),
        "cores": os.cpu_count(),
    }


async def drive(
    target: str, procs: Processes, rates: list[float], concurrency: list[int], duration: float
) -> list[dict[str, Any]]:
    phases = []
    async with aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        stub = router_pb2_grpc.RouterServiceStub(channel)
        warm = Tally()
        for n in range(2 * len(TURNS)):  # warm up connections, caches and every flow
            await one_turn(stub, f"warm-{n}", n, warm)
        if warm.errors:
            raise RuntimeError(f"warm-up turns failed: {dict(warm.errors)}")
        for index, rate in enumerate(rates):
            phases.append(await run_phase(stub, procs, f"r{index}", rate, 0, duration))
            _show(phases[-1])
        for index, clients in enumerate(concurrency):
            phases.append(await run_phase(stub, procs, f"c{index}", 0.0, clients, duration))
            _show(phases[-1])
    return phases


def _show(phase: dict[str, Any]) -> None:
    print(f"phase {phase['phase']} ({phase['seconds']} s)", flush=True)
    for key, value in phase.items():
        if key not in ("phase", "seconds"):
            print(f"  {key:<28} {value}", flush=True)


def _parse_workers(values: list[str]) -> dict[str, str]:
    env = {}
    for value in values:
        name, _, count = value.partition("=")
        if name not in SERVICES or not count.isdigit():
            raise SystemExit(f"--workers wants <service>=<N> with a service of {SERVICES}")
        env[f"SWITCHBOARD_{name.upper()}__WORKERS"] = count
    return env


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--router", default=None, help="drive a router already running there")
    parser.add_argument("--in-process", action="store_true", help="start a mesh in this process")
    parser.add_argument(
        "--rate", type=float, action="append", help="open-loop turns/s (repeatable; default 20)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="closed-loop clients at saturation (repeatable; default 16)",
    )
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per phase")
    parser.add_argument(
        "--workers", action="append", default=[], help="<service>=<N> worker processes (--up)"
    )
    parser.add_argument(
        "--via-gateway",
        action="store_true",
        help="send the turns through Envoy (gRPC proxied) and count Envoy's CPU (--up)",
    )
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the mesh's processes (--up)"
    )
    args = parser.parse_args()
    rates = args.rate if args.rate is not None else [20.0]
    concurrency = args.concurrency if args.concurrency is not None else [16]
    rates = [r for r in rates if r > 0]
    concurrency = [c for c in concurrency if c > 0]
    env = _parse_workers(args.workers)
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value

    up: UpMesh | None = None
    mesh = None
    if args.router:
        target = args.router
        procs = Processes(
            {"mesh": find_processes(b"services.cli serve")}, {"load_generator": [os.getpid()]}
        )
        how = "a running mesh"
    elif args.in_process:
        from services.mesh import start_mesh

        data = tempfile.TemporaryDirectory(prefix="switchboard-bench-")
        settings = load_settings(data_dir=data.name)
        for name in SERVICES:
            settings.service(name).port = 0
        settings.mocks.ports = dict.fromkeys(settings.mocks.ports, 0)
        mesh = await start_mesh(settings)
        target = mesh.target("router")
        procs = Processes({"in-process": [os.getpid()]}, {})
        how = "the mesh in this process (and this client)"
    else:
        up = UpMesh(env).start()
        target = up.gateway if args.via_gateway else up.target("router")
        groups = {name: up.pids(name) for name in SERVICES}
        if args.via_gateway:
            groups["gateway"] = find_processes(b"envoy", under=up.proc.pid if up.proc else None)
        procs = Processes(
            groups,
            {"mocks": up.mock_pids(), "load_generator": [os.getpid()]},
        )
        how = "switchboard up " + (" ".join(f"{k}={v}" for k, v in env.items()) or "(defaults)")
        how += ", through the Envoy gateway" if args.via_gateway else ", direct to the router"
    print(f"turn load against {target}: {how}", flush=True)
    try:
        phases = await drive(target, procs, rates, concurrency, args.duration)
    except (grpc.RpcError, TimeoutError) as error:
        sys.exit(f"cannot reach the router at {target}: {error}")
    finally:
        if mesh is not None:
            await mesh.stop()
            data.cleanup()
        if up is not None:
            up.stop()
    print(json.dumps({"bench": "turn_load", "mesh": how, "phases": phases}))


if __name__ == "__main__":
    asyncio.run(main())
