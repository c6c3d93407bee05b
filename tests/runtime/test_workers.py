"""Several worker processes of one service share its port, and a dead worker is replaced."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.add(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _answers(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            # As mesh clients do: a connection reset while a worker is replaced is retried.
            health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10, wait_for_ready=True
            )
        except grpc.RpcError:
            return False
    return True


def _serving(target: str, timeout: float = 1.0) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_two_workers_share_a_port_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "SWITCHBOARD_GOVERNANCE__PORT": str(port),
        "SWITCHBOARD_GOVERNANCE__WORKERS": "2",
        "SWITCHBOARD_TELEMETRY__LOCAL_DIR": "",
    }
    parent = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "governance"], cwd=ROOT, env=env
    )
    target = f"127.0.0.1:{port}"
    try:
        _wait_for(lambda: len(_children(parent.pid)) == 2)
        _wait_for(lambda: _serving(target))
        first = _children(parent.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: _gone(victim))
        # The other worker keeps answering while the parent starts a replacement.
        # The port keeps answering. A new connection may land on the replacement while it is
        # still starting (it binds first and reports NOT_SERVING until ready), so any health
        # answer counts here; SERVING everywhere is awaited below.
        assert _answers(target)
        _wait_for(lambda: len(_children(parent.pid) - {victim}) == 2)
        _wait_for(lambda: _serving(target))
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(timeout=30)
    assert code == 0
    assert not _children(parent.pid)
