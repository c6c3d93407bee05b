"""Router memory: the router process's resident memory after start and after turns, and its parts.

    .venv/bin/python benchmarks/router_memory.py                   # mesh, then the breakdown
    .venv/bin/python benchmarks/router_memory.py --turns 400 --long-turns 20 --tracemalloc
    .venv/bin/python benchmarks/router_memory.py --no-mesh          # the breakdown only (~15 s)

Two measurements, each in processes of its own, read from /proc/<pid>/status (VmRSS, and its
anonymous and file-backed parts; VmHWM is the peak since the process started, which a memory
limit must also cover):

1. ``switchboard up`` on free ports (every service its own process, as turn_load.py runs it):
   the router process right after it reports SERVING, after --turns turns (the turn_load mix,
   one at a time), then after --long-turns long messages (3,900 characters in six clauses, which
   the classifier encodes as one batch of six: its largest working set).
2. The breakdown: a fresh Python process builds the classifier exactly as the router's start
   does (``LayerPoolingEncoder`` on the router's default backend and threads, then
   ``IntentClassifier.from_packs`` on the shipped packs with an empty embedding cache, as in a
   new pod, which fits the model in a child process) and hands the freed heap back as it then
   does, reading its memory after each step, then classifies the packs' utterances and the long
   messages.
   ``--tracemalloc`` adds a second such process that lists which Python allocations are still
   alive at the end (the weights, vocabularies and model objects Python itself holds; memory
   onnxruntime allocates in C++ is not traced).

Both also say whether scikit-learn or scipy got into the router process (its mapped shared
libraries in the mesh, ``sys.modules`` in the breakdown): neither should. The figures are
measured, not asserted. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import UpMesh, memory_kib
from grpc import aio

from switchboard.v1 import router_pb2, router_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
#: the turn_load.py mix: (text, customer_id)
TURNS = (
    ("Is flight UA 123 on time?", ""),
    ("hello there", ""),
    ("what is my loyalty balance", "C-1001"),
    ("what is the baggage allowance for checked bags?", ""),
)
MULTI = (
    "Is flight UA 123 on time and what is my loyalty balance?",
    "I want to check my claim status and also find a provider near me",
)
#: clauses of a long message (no words or marks the classifier splits clauses at inside them)
_CLAUSES = (
    "my checked suitcase from the morning flight to Denver never showed up on the carousel",
    "the agent at the desk told me to wait for a call from the baggage office",
    "I need my medication from that bag before tomorrow morning",
    "please tell me who pays for the clothes I had to buy at the airport",
    "my booking reference is on the confirmation email you sent last week",
    "I would like a refund of the checked bag fee for this trip",
)


def long_message(variant: int) -> str:
    """About 3,900 characters (the router accepts 4,000) in six clauses of ~650 characters."""
    clauses = []
    for i, clause in enumerate(_CLAUSES):
        words = (clause + f" on day {variant + i} ").split()
        text = ""
        while len(text) < 630:
            text += " ".join(words) + " "
        clauses.append(text.strip())
    return ". ".join(clauses)[:3900]


def mib(fields: dict[str, int]) -> dict[str, float]:
    return {key: round(value / 1024, 1) for key, value in fields.items()}


def mapped_libraries(pid: int, names: tuple[str, ...] = ("sklearn", "scipy")) -> list[str]:
    """Which of ``names`` have a shared library mapped into the process (imported there)."""
    paths = {
        line.split(maxsplit=5)[-1]
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
        if line.count(" ") >= 5
    }
    return sorted(name for name in names if any(f"/{name}/" in path for path in paths))


async def send_turns(target: str, turns: list[tuple[str, str]]) -> int:
    """The ``(text, customer_id)`` turns one at a time; how many ended without an error."""
    completed = 0
    async with aio.insecure_channel(target) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        for n, (text, customer) in enumerate(turns):
            request = router_pb2.SendTurnRequest(
                session_id=f"mem-{n % 8}", text=text, channel="bench", customer_id=customer
            )
            failed = False
            async for response in stub.SendTurn(request, timeout=30):
                failed = failed or response.event.WhichOneof("event") == "error"
            completed += not failed
    return completed


def measure_mesh(turns: int, long_turns: int) -> dict[str, Any]:
    started = time.monotonic()
    with UpMesh() as up:
        ready_s = time.monotonic() - started
        pids = up.pids("router")
        if len(pids) != 1:
            raise RuntimeError(f"expected one router process, found {pids}")
        pid = pids[0]
        target = up.target("router")
        after_start = mib(memory_kib(pid))
        libraries = mapped_libraries(pid)
        completed = asyncio.run(send_turns(target, [TURNS[n % len(TURNS)] for n in range(turns)]))
        after_turns = mib(memory_kib(pid))
        long_completed = asyncio.run(
            send_turns(target, [(long_message(n), "") for n in range(long_turns)])
        )
        after_long = mib(memory_kib(pid))
        others = {
            name: round(memory_kib(p[0]).get("VmRSS", 0) / 1024, 1)
            for name in ("pii", "governance", "planner")
            if len(p := up.pids(name)) == 1
        }
    return {
        "ready_s": round(ready_s, 1),
        "after_start": after_start,
        "sklearn_or_scipy_mapped": libraries,
        "turns": turns,
        "turns_completed": completed,
        "after_turns": after_turns,
        "long_turns": long_turns,
        "long_turns_completed": long_completed,
        "after_long_turns": after_long,
        "others_rss_mib": others,
    }


def breakdown(tracemalloc_top: int) -> None:
    """Runs in a child process: build the router's classifier step by step (one JSON line)."""
    if tracemalloc_top:
        import tracemalloc

        tracemalloc.start()
    steps: list[dict[str, Any]] = []

    def step(name: str) -> None:
        gc.collect()
        steps.append({"step": name, **mib(memory_kib(os.getpid()))})

    step("interpreter (and the benchmark's grpc imports)")
    import onnxruntime  # noqa: F401 - the session imports it lazily; counted with the imports

    from services.intents import IntentClassifier
    from services.intents.features import LayerPoolingEncoder
    from services.intents.packs import load_packs
    from services.router.config import RouterSettings
    from services.runtime.memory import release_freed_memory

    step("imports (numpy, onnx, onnxruntime, tokenizers)")
    config = RouterSettings()
    # As RouterService.start builds it.
    encoder = LayerPoolingEncoder(
        backend=config.classifier_backend, threads=config.classifier_threads
    )
    step(f"encoder built ({encoder.backend}, layers {','.join(map(str, encoder.layers))})")
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as cache:
        classifier = IntentClassifier.from_packs(
            config.intents_dir, encoder=encoder, cache_dir=Path(cache)
        )
    step("classifier trained (empty embedding cache)")
    release_freed_memory()
    step("freed heap handed back (as RouterService.start does)")
    texts: list[str] = list(MULTI)
    for pack in load_packs(config.intents_dir):
        for intent in pack.intents:
            texts.extend(intent.examples)
        texts.extend(pack.out_of_scope)
    for text in texts:
        classifier.classify(text)
    step(f"after {len(texts)} classifications")
    for n in range(4):
        classifier.classify(long_message(n))
    step("after 4 long messages (six clauses of ~650 characters)")
    imported = sorted({name.split(".")[0] for name in sys.modules} & {"sklearn", "scipy"})
    result: dict[str, Any] = {"steps": steps, "sklearn_or_scipy_imported": imported}
    if tracemalloc_top:
        import tracemalloc

        snapshot = tracemalloc.take_snapshot()
        stats = snapshot.statistics("lineno")
        result["python_heap_mib"] = round(sum(s.size for s in stats) / 2**20, 1)
        result["python_top"] = [
            {"where": str(s.traceback), "mib": round(s.size / 2**20, 2)}
            for s in stats[:tracemalloc_top]
        ]
    print(json.dumps(result))


def run_breakdown(tracemalloc_top: int = 0) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--breakdown-child", f"--tracemalloc-top={tracemalloc_top}"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=80, help="turns sent after start (mesh)")
    parser.add_argument(
        "--long-turns", type=int, default=4, help="long six-clause turns sent after those (mesh)"
    )
    parser.add_argument("--no-mesh", action="store_true", help="skip the switchboard up part")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also list the Python heap's largest holders"
    )
    parser.add_argument("--breakdown-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc-top", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown_child:
        breakdown(args.tracemalloc_top)
        return

    figures: dict[str, Any] = {"bench": "router_memory"}
    if not args.no_mesh:
        mesh = measure_mesh(max(0, args.turns), max(0, args.long_turns))
        figures["mesh"] = mesh
        print(f"router process in switchboard up (ready in {mesh['ready_s']} s), MiB:")
        for label, key in (
            ("after start", "after_start"),
            (f"after {mesh['turns_completed']}/{mesh['turns']} turns", "after_turns"),
            (
                f"after {mesh['long_turns_completed']}/{mesh['long_turns']} long turns",
                "after_long_turns",
            ),
        ):
            row = mesh[key]
            print(
                f"  {label:<24} RSS {row['VmRSS']:>6} (anonymous {row['RssAnon']}, "
                f"file {row['RssFile']}), peak {row['VmHWM']}"
            )
        print(f"  other services' RSS (MiB): {mesh['others_rss_mib']}")
        print(
            "  scikit-learn or scipy mapped into it: "
            f"{', '.join(mesh['sklearn_or_scipy_mapped']) or 'neither'}",
            flush=True,
        )
    steps = run_breakdown()
    figures["breakdown"] = steps["steps"]
    figures["breakdown_sklearn_or_scipy_imported"] = steps["sklearn_or_scipy_imported"]
    print("the router's classifier built in a fresh process (MiB):")
    previous = 0.0
    for row in steps["steps"]:
        print(
            f"  {row['step']:<62} RSS {row['VmRSS']:>6} ({row['VmRSS'] - previous:+.1f})  "
            f"anonymous {row['RssAnon']:>6}  peak {row['VmHWM']:>6}"
        )
        previous = row["VmRSS"]
    print(
        "  scikit-learn or scipy imported in it: "
        f"{', '.join(steps['sklearn_or_scipy_imported']) or 'neither'}"
    )
    if args.tracemalloc:
        traced = run_breakdown(tracemalloc_top=12)
        figures["python_heap_mib"] = traced["python_heap_mib"]
        figures["python_top"] = traced["python_top"]
        print(f"Python heap still allocated at the end: {traced['python_heap_mib']} MiB; largest:")
        for row in traced["python_top"]:
            print(f"  {row['mib']:>7} MiB  {row['where']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
