"""Turn load: drive RouterService.SendTurn at a fixed rate or at saturation and print figures.

Against a running mesh (`make up`, or any router address):
    .venv/bin/python benchmarks/turn_load.py --rate 50 --duration 20
    .venv/bin/python benchmarks/turn_load.py --concurrency 32 --duration 20   # saturation
With no mesh running, --in-process starts one in this process on ephemeral ports.

Prints turns/s, latency percentiles, error and fallback counts, CPU per turn and memory of the
mesh's processes (read from /proc), then one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc import aio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.config import load_settings  # noqa: E402
from switchboard.v1 import router_pb2, router_pb2_grpc  # noqa: E402

TEXTS = (
    "Is flight UA 123 on time?",
    "hello there",
    "what is my loyalty balance",
    "where is claim CL-9001?",
)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    completed: int = 0

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


async def one_turn(stub: router_pb2_grpc.RouterServiceStub, n: int, tally: Tally) -> None:
    request = router_pb2.SendTurnRequest(
        session_id=f"load-{n % 500}-{os.getpid()}", text=TEXTS[n % len(TEXTS)], channel="bench"
    )
    start = time.perf_counter()
    try:
        async for response in stub.SendTurn(request, timeout=30):
            kind = response.event.WhichOneof("event")
            if kind == "fallback":
                tally.fallbacks += 1
            elif kind == "turn_completed":
                tally.completed += 1
            elif kind == "error":
                tally.error(response.event.error.code)
    except aio.AioRpcError as error:
        tally.error(error.code().name)
        return
    tally.latencies.append(time.perf_counter() - start)


def _mesh_processes() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"services.cli serve" in cmdline:
            pids.append(int(entry.name))
    return pids or [os.getpid()]


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def _rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(target: str, rate: float, concurrency: int, duration: float) -> dict[str, object]:
    tally = Tally()
    pids = _mesh_processes()
    async with aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        stub = router_pb2_grpc.RouterServiceStub(channel)
        for n in range(5):  # warm up connections and caches
            await one_turn(stub, n, Tally())
        cpu_before = _cpu_seconds(pids)
        start = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        if rate > 0:
            # Open loop: a new turn every 1/rate seconds, whether or not earlier ones finished.
            while time.perf_counter() - start < duration:
                task = asyncio.create_task(one_turn(stub, n, tally))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        else:
            # Closed loop at saturation: `concurrency` clients, each sending once answered.
            async def client(k: int) -> None:
                i = k
                while time.perf_counter() - start < duration:
                    await one_turn(stub, i, tally)
                    i += concurrency

            await asyncio.gather(*(client(k) for k in range(concurrency)))
        if tasks:
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(pids) - cpu_before
    turns = len(tally.latencies)
    return {
        "bench": "turn_load",
        "mode": f"rate={rate}/s" if rate > 0 else f"concurrency={concurrency}",
        "turns": turns,
        "turns_per_s": round(turns / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(tally.latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1),
        "errors": tally.errors,
        "fallbacks": tally.fallbacks,
        "cpu_ms_per_turn": round(cpu / max(turns, 1) * 1000, 2),
        "rss_mib": round(_rss_mib(pids), 1),
        "processes": len(pids),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--router", default=None, help="router address (default: from settings)")
    parser.add_argument("--rate", type=float, default=0.0, help="turns per second (open loop)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at saturation")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    parser.add_argument("--in-process", action="store_true", help="start a mesh in this process")
    args = parser.parse_args()
    mesh = None
    target = args.router or load_settings().router.target
    if args.in_process:
        from services.config import SERVICES
        from services.mesh import start_mesh

        settings = load_settings(data_dir=tempfile.mkdtemp(prefix="switchboard-bench-"))
        for name in SERVICES:
            settings.service(name).port = 0
        settings.mocks.ports = dict.fromkeys(settings.mocks.ports, 0)
        settings.telemetry.local_dir = ""
        mesh = await start_mesh(settings)
        target = mesh.target("router")
    try:
        figures = await drive(target, args.rate, args.concurrency, args.duration)
    except (grpc.RpcError, TimeoutError) as error:
        sys.exit(f"cannot reach the router at {target}: {error}; start it with `make up`")
    finally:
        if mesh is not None:
            await mesh.stop()
    print(f"turn load against {target} ({figures['mode']}, {args.duration:.0f} s)")
    for key in (
        "turns",
        "turns_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "errors",
        "fallbacks",
        "cpu_ms_per_turn",
        "rss_mib",
        "processes",
    ):
        print(f"  {key:<16} {figures[key]}")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
