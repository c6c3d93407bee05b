"""A bounded soak: turns at a steady rate for a few minutes against the mesh running as processes;
the router process's resident memory and open file descriptors stay flat.

Run with `.venv/bin/pytest tests/reliability -m slow -s` to see the figures. The length is
SWITCHBOARD_SOAK_S seconds (150 by default), the rate SWITCHBOARD_SOAK_RATE turns/s (4).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from reliability_processes import ProcessMesh, process_mesh
from reliability_support import (
    UTTERANCES,
    Resources,
    Turn,
    assert_ended_cleanly,
    median,
    outcome_of,
    resources,
    send_turn,
)

SOAK_S = float(os.environ.get("SWITCHBOARD_SOAK_S", "150"))
RATE = float(os.environ.get("SWITCHBOARD_SOAK_RATE", "4"))
#: the first part of the run lets caches, pools and the allocator settle
WARM_UP_S = SOAK_S / 5
WINDOW_S = SOAK_S / 5
#: growth allowed between the windows: allocator noise, not a per-turn leak
RSS_TOLERANCE = 0.03
RSS_SLACK_KIB = 4 * 1024
FD_SLACK = 4
#: sessions are reused, as a channel's customers come back; the store grows, the router should not
SESSIONS = 40


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessMesh]:
    with process_mesh(Path(tmp_path_factory.mktemp("soak"))) as running:
        yield running


@pytest.mark.slow
@pytest.mark.timeout(SOAK_S + 240)  # the run itself, plus starting and stopping the mesh
def test_router_memory_and_descriptors_stay_flat_at_a_steady_rate(
    processes: ProcessMesh,
) -> None:
    router_pid = processes.procs["router"].pid
    target = processes.target("router")
    samples: list[tuple[float, Resources]] = []
    futures: list[Future[Turn]] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(4, int(RATE * 2))) as pool:
        sent = 0
        while (now := time.monotonic()) - start < SOAK_S:
            due = int((now - start) * RATE)
            while sent < due:
                text, customer = UTTERANCES[sent % len(UTTERANCES)]
                session = f"soak-{sent % SESSIONS}"
                futures.append(pool.submit(send_turn, target, session, text, customer, 30.0))
                sent += 1
            if not samples or now - samples[-1][0] >= 1.0:
                samples.append((now - start, resources(router_pid)))
            time.sleep(0.02)  # pacing of the load generator, not a wait for a state
        turns = []
        failures: Counter[str] = Counter()
        for future in futures:
            try:
                turns.append(future.result(timeout=60))
            except grpc.RpcError as error:
                failures[str(error.code())] += 1

    early = [r for t, r in samples if WARM_UP_S <= t < WARM_UP_S + WINDOW_S]
    late = [r for t, r in samples if t >= SOAK_S - WINDOW_S]
    assert early and late, "the run is too short for two windows"
    rss_early, rss_late = median(r.rss_kib for r in early), median(r.rss_kib for r in late)
    fds_early, fds_late = max(r.fds for r in early), max(r.fds for r in late)
    figures = {
        "soak_s": SOAK_S,
        "rate_per_s": RATE,
        "turns": len(futures),
        "outcomes": dict(Counter(outcome_of(t) for t in turns)),
        "rpc_failures": dict(failures),
        "rss_kib_early": rss_early,
        "rss_kib_late": rss_late,
        "rss_kib_max": max(r.rss_kib for _, r in samples),
        "fds_early": fds_early,
        "fds_late": fds_late,
    }
    print("\nsoak:", json.dumps(figures))

    # Sessions are reused, so the gate queues a session's second turn: none may fail or hang.
    assert not failures, failures
    for turn in turns:
        assert_ended_cleanly(turn)
    assert rss_late <= rss_early * (1 + RSS_TOLERANCE) + RSS_SLACK_KIB, figures
    assert fds_late <= fds_early + FD_SLACK, figures
