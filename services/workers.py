"""Several worker processes of one service sharing its port.

gRPC sets SO_REUSEPORT on Linux, so each worker binds the same address and the kernel spreads
new connections across them; a 2-core machine then uses both cores for one service. The parent
only supervises: it restarts a worker that dies and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

WORKER_ENV = "SWITCHBOARD_WORKER"
#: a worker that dies more often than this within RESTART_WINDOW_S stops the service
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


def is_worker() -> bool:
    return WORKER_ENV in os.environ


def supervise(argv: Sequence[str], workers: int, stop_grace_s: float) -> int:
    """Run ``workers`` copies of ``argv`` until signalled; return the exit code."""
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def spawn(index: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, WORKER_ENV: str(index)}
        return subprocess.Popen([sys.executable, *argv], env=env)

    procs = {index: spawn(index) for index in range(workers)}
    restarts: list[float] = []
    code = 0
    while not stopping:
        time.sleep(0.2)
        for index, proc in list(procs.items()):
            if proc.poll() is None or stopping:
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(restarts) > MAX_RESTARTS:
                log.error("workers keep dying (last exit %s); stopping", proc.returncode)
                stopping, code = True, 1
                break
            log.warning("worker %d exited with %s; restarting it", index, proc.returncode)
            procs[index] = spawn(index)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + stop_grace_s + 5
    for proc in procs.values():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return code
