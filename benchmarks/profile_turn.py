"""Profile the hot path of a turn with cProfile: where a turn's CPU goes, function by function.

    .venv/bin/python benchmarks/profile_turn.py                   # 150 turns, top 25
    .venv/bin/python benchmarks/profile_turn.py --turns 400 --top 40 --out /tmp/turn.prof

First measures the CPU per turn without the profiler (process CPU time over --turns turns),
then profiles the same number of turns. The whole mesh runs in this process (every service, the
mocks, ports on 127.0.0.1 chosen by the system), so one profiler sees every service's code on
the one event loop; the turns are the turn-load mix, four at a time. Prints the functions with
the most time of their own (tottime) and the most time including their callees (cumtime), each
as ms per turn, then where CPU goes by area (intent encoder, CEL policies, gRPC, ...). Load the
.prof written with --out in snakeviz or `python -m pstats`. cProfile's own overhead inflates
fine-grained Python code: read its figures as shares more than as absolute costs. It times the
event loop's thread by the wall clock (other load on a shared machine inflates it; --cpu-timer
uses thread CPU time instead, at a higher overhead); gRPC's own threads are not in it.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit.experiments import EXPERIMENTS, apply
from grpc import aio
from turn_load import TURNS, Tally, one_turn

from services.config import SERVICES, load_settings
from services.mesh import start_mesh
from switchboard.v1 import router_pb2_grpc

#: areas of the code, by a path fragment of the function's file (first match wins)
AREAS = (
    ("intent encoder (numpy MiniLM)", "services/intents/"),
    ("tokenizers", "tokenizers"),
    ("numpy", "numpy/"),
    ("opentelemetry", "opentelemetry/"),
    ("protobuf", "google/protobuf"),
    ("grpc", "grpc/"),
    ("jsonschema / referencing", "jsonschema"),
    ("jsonschema / referencing", "referencing"),
    ("pydantic", "pydantic"),
    ("CEL policies", "celpy"),
    ("lark (CEL parser)", "lark"),
    ("httpx / httpcore", "http"),
    ("uvicorn / starlette (mocks)", "starlette"),
    ("uvicorn / starlette (mocks)", "uvicorn"),
    ("logging", "logging/"),
    ("json", "json/"),
    ("asyncio", "asyncio/"),
    ("router", "services/router/"),
    ("planner", "services/planner/"),
    ("tool-broker", "services/tool_broker/"),
    ("governance", "services/governance/"),
    ("pii", "services/pii/"),
    ("session", "services/session/"),
    ("runtime", "services/runtime/"),
    ("mocks", "mocks/"),
)


#: named hot paths: (file fragment, function) whose time with callees is reported per turn
HOT_PATHS = {
    "governance: policy rules (CEL)": ("services/governance/engine.py", "evaluate"),
    "governance: CheckInput": ("services/governance/servicer.py", "CheckInput"),
    "governance: CheckToolCall": ("services/governance/servicer.py", "CheckToolCall"),
    "governance: CheckOutput": ("services/governance/servicer.py", "CheckOutput"),
    "router: intent classification": ("services/intents/classifier.py", "classify"),
    "planner: reply templates": ("services/planner/flows.py", "reply"),
    "planner: media templates": ("services/planner/flows.py", "media"),
    "tool-broker: argument validation": ("services/catalogue/", "validate_arguments"),
    "tool-broker: response validation": ("services/catalogue/", "validate_response"),
    "pii: Redact": ("services/pii/servicer.py", "Redact"),
}


def area_of(filename: str) -> str:
    if filename.startswith("<") or filename == "~":
        return "builtins (C)"
    for name, fragment in AREAS:
        if fragment in filename:
            return name
    return "other"


async def profile(
    turns: int, concurrency: int, profiler: cProfile.Profile, experiments: list[str], rounds: int
) -> tuple[dict[str, float], float]:
    """CPU s per turn without the profiler (and with the experiments), then profiled turns."""
    data = tempfile.TemporaryDirectory(prefix="switchboard-bench-")
    settings = load_settings(data_dir=data.name)
    for name in SERVICES:
        settings.service(name).port = 0
    settings.mocks.ports = dict.fromkeys(settings.mocks.ports, 0)
    mesh = await start_mesh(settings)
    try:
        async with aio.insecure_channel(mesh.target("router")) as channel:
            stub = router_pb2_grpc.RouterServiceStub(channel)
            warm = Tally()
            for n in range(3 * len(TURNS)):
                await one_turn(stub, f"warm-{n}", n, warm)

            async def run(label: str) -> None:
                tally = Tally()

                async def client(k: int) -> None:
                    for i in range(k, turns, concurrency):
                        await one_turn(stub, f"{label}-{k}", i, tally)

                await asyncio.gather(*(client(k) for k in range(concurrency)))
                if tally.errors or len(tally.latencies) != turns:
                    raise RuntimeError(f"{label} turns failed: {dict(tally.errors)}")

            async def cpu_per_turn() -> float:
                cpu_before = time.process_time()  # every thread of this process: the whole mesh
                await run("plain")
                return (time.process_time() - cpu_before) / turns

            # Before and after, alternating in the same mesh, so the load on the machine and the
            # state of the mesh weigh on both alike.
            without, with_ = [], []
            for _ in range(rounds if experiments else 1):
                without.append(await cpu_per_turn())
                if experiments:
                    undo = apply(experiments)
                    with_.append(await cpu_per_turn())
                    undo()
            cpu = {"without": statistics.median(without)}
            if with_:
                cpu["with"] = statistics.median(with_)
            if experiments:
                apply(experiments)  # the profile shows the code with the experiments applied
            started = time.perf_counter()
            profiler.enable()
            await run("prof")
            profiler.disable()
            return cpu, time.perf_counter() - started
    finally:
        await mesh.stop()
        data.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="write the raw profile here")
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        choices=sorted(EXPERIMENTS),
        help="a candidate fix (benchkit/experiments.py): CPU per turn without and with it, "
        "alternating --rounds times in one mesh; the profile is taken with it",
    )
    parser.add_argument("--rounds", type=int, default=3, help="before/after rounds")
    parser.add_argument(
        "--cpu-timer", action="store_true", help="profile thread CPU time, not wall time"
    )
    args = parser.parse_args()
    applied = list(args.experiment)
    # --cpu-timer: CPU time of this thread, immune to other load on the machine, but reading
    # it costs a system call per event, which inflates code making many small calls (CEL) more.
    profiler = cProfile.Profile(time.thread_time) if args.cpu_timer else cProfile.Profile()
    cpu, elapsed = asyncio.run(
        profile(args.turns, args.concurrency, profiler, applied, args.rounds)
    )
    if args.out:
        profiler.dump_stats(str(args.out))
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())  # tottime of every function
    per_turn = 1000 / args.turns

    def label(key: tuple[str, int, str]) -> str:
        filename, line, name = key
        short = filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        return f"{short}:{line}({name})" if line else name

    print(
        f"experiments: {', '.join(applied) or 'none'}\n"
        f"{args.turns} turns, {args.concurrency} at a time, without the profiler: "
        + "; ".join(f"{k} experiments {v * 1000:.1f} ms" for k, v in cpu.items())
        + " CPU per turn (median; the whole mesh, mocks and client, one process)\n"
        f"the same again in {elapsed:.1f} s under cProfile: "
        f"{total / args.turns * 1000:.1f} ms of profiled CPU per turn (all services, this thread)"
    )
    own = sorted(raw.items(), key=lambda item: -item[1][2])[: args.top]
    print(f"\ntop {args.top} by own time (ms per turn, share of the turn)")
    for key, (_, calls, tottime, _cum, _) in own:
        print(
            f"  {tottime * per_turn:7.2f} ms {tottime / total:6.1%} {calls / args.turns:8.1f} "
            f"calls/turn  {label(key)}"
        )
    cumulative = sorted(raw.items(), key=lambda item: -item[1][3])
    print(f"\ntop {args.top} by time with callees (ms per turn)")
    shown = 0
    for key, (_, calls, _tot, cumtime, _) in cumulative:
        if key[0] == "~" or "asyncio" in key[0] or "grpc/_cython" in key[0]:
            continue  # event-loop plumbing wraps everything
        print(f"  {cumtime * per_turn:7.2f} ms {calls / args.turns:8.1f} calls/turn  {label(key)}")
        shown += 1
        if shown == args.top:
            break
    hot: dict[str, float] = {}
    for key, entry in raw.items():
        for name, (fragment, function) in HOT_PATHS.items():
            if fragment in key[0] and key[2] == function:
                hot[name] = hot.get(name, 0.0) + entry[3]
    print("\nhot paths, with callees (ms per turn)")
    for name, seconds in hot.items():
        print(f"  {seconds * per_turn:7.2f} ms  {name}")
    areas: dict[str, float] = {}
    for key, entry in raw.items():
        area = area_of(key[0])
        areas[area] = areas.get(area, 0.0) + entry[2]
    print("\nown time by area (ms per turn, share)")
    for area, seconds in sorted(areas.items(), key=lambda item: -item[1]):
        print(f"  {seconds * per_turn:7.2f} ms {seconds / total:6.1%}  {area}")
    print(
        json.dumps(
            {
                "bench": "profile_turn",
                "turns": args.turns,
                "experiments": applied,
                "cpu_ms_per_turn_unprofiled": round(cpu["without"] * 1000, 2),
                **(
                    {"cpu_ms_per_turn_with_experiments": round(cpu["with"] * 1000, 2)}
                    if "with" in cpu
                    else {}
                ),
                "profiled_cpu_ms_per_turn": round(total * per_turn, 2),
                "hot_paths_ms_per_turn": {
                    name: round(seconds * per_turn, 2) for name, seconds in hot.items()
                },
                "by_area_ms_per_turn": {
                    area: round(seconds * per_turn, 2)
                    for area, seconds in sorted(areas.items(), key=lambda item: -item[1])
                },
                "top_own": [
                    {"function": label(key), "ms_per_turn": round(entry[2] * per_turn, 3)}
                    for key, entry in own[:10]
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
