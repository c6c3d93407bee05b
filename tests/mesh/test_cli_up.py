"""`switchboard up` as a person runs it: every service its own process, then `switchboard ask`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from harness import LoopThread, free_ports

from services.config import SERVICES, load_settings
from services.session.service import build as build_session
from switchboard.v1 import session_pb2, session_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
SWITCHBOARD = [sys.executable, "-m", "services.cli"]


class Up:
    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], data_dir: Path) -> None:
        self.proc = proc
        self.env = env
        self.data_dir = data_dir
        self.output: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("stop: Ctrl-C"):  # the last line up prints once ready
                self.ready.set()
        self.ready.set()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("up")
    defaults = load_settings()
    mock_names = list(defaults.mocks.ports)
    ports = free_ports(len(SERVICES) + len(mock_names) + 2)
    gateway_port, admin_port = ports.pop(), ports.pop()
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(data_dir)}
    for name, port in zip(SERVICES, ports, strict=False):
        env[f"SWITCHBOARD_{name.upper()}__PORT"] = str(port)
    mock_ports = dict(zip(mock_names, ports[len(SERVICES) :], strict=True))
    env["SWITCHBOARD_MOCKS__PORTS"] = json.dumps(mock_ports)
    env["SWITCHBOARD_GATEWAY__PORT"] = str(gateway_port)
    env["SWITCHBOARD_GATEWAY__ADMIN_PORT"] = str(admin_port)
    env["SWITCHBOARD_TOOL_BROKER__BACKENDS"] = json.dumps(
        {
            name: {"openapi": str(b.openapi), "base_url": f"http://127.0.0.1:{mock_ports[name]}"}
            for name, b in defaults.tool_broker.backends.items()
        }
    )
    proc = subprocess.Popen(
        [*SWITCHBOARD, "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Up(proc, env, data_dir)
    try:
        running.ready.wait(timeout=180)
        assert proc.poll() is None, "".join(running.output)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_up_prints_what_listens_where(up: Up) -> None:
    text = "".join(up.output)
    for service in ("router", "planner", "tool-broker", "governance", "pii", "session"):
        assert service in text
    assert "switchboard.v1.RouterService" in text


def test_the_gateway_answers_rest_in_front_of_the_router(up: Up) -> None:
    url = f"http://127.0.0.1:{up.env['SWITCHBOARD_GATEWAY__PORT']}/v1/sessions/rest-1/turns"
    body = json.dumps({"text": "Is flight UA 123 on time?"}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = response.read().decode()
    assert response.status == 200
    assert "turn_started" in payload or "turnStarted" in payload
    assert "turn_completed" in payload or "turnCompleted" in payload


def test_ask_json_streams_a_whole_turn(up: Up) -> None:
    result = subprocess.run(
        [*SWITCHBOARD, "ask", "Is flight UA 123 on time?", "--session", "s1", "--json"],
        cwd=ROOT,
        env=up.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [next(k for k in e if k not in ("turn_id", "trace_id", "time")) for e in events]
    assert kinds[0] == "turn_started" and kinds[-1] == "turn_completed", kinds
    for kind in ("intent", "plan", "step_started", "step_finished", "text_delta"):
        assert kind in kinds, kinds
    finished = next(e["step_finished"] for e in events if "step_finished" in e)
    assert finished["result"]["http_status"] == 200
    assert events[0]["turn_started"]["session_id"] == "s1"


def test_ask_without_a_session_is_refused_by_the_cli(up: Up) -> None:
    result = subprocess.run(
        [*SWITCHBOARD, "ask", "hello"], cwd=ROOT, env=up.env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "--session" in result.stderr


def _child(parent: int, marker: bytes) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if ppid == parent and marker in cmdline:
            return int(entry.name)
    return None


def test_up_restarts_a_part_that_dies(up: Up) -> None:
    victim = _child(up.proc.pid, b"serve planner")
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        replacement = _child(up.proc.pid, b"serve planner")
        if replacement not in (None, victim) and any("restarting" in line for line in up.output):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("".join(up.output[-20:]))
    result = subprocess.run(
        [*SWITCHBOARD, "ask", "Is flight UA 123 on time?", "--session", "after-restart", "--json"],
        cwd=ROOT,
        env=up.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"turn_completed"' in result.stdout.splitlines()[-1]


def test_stopping_up_stops_every_process_and_the_session_survives(
    up: Up, loop_thread: LoopThread
) -> None:
    subprocess.run(
        [*SWITCHBOARD, "ask", "hello", "--session", "durable-1"],
        cwd=ROOT,
        env=up.env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(timeout=30) == 0, "".join(up.output)
    settings = load_settings()
    settings.data_dir = up.data_dir
    settings.session.port = 0
    from harness import start_service

    server = start_service(loop_thread, build_session(settings))
    try:
        with grpc.insecure_channel(server.target) as channel:
            stub = session_pb2_grpc.SessionServiceStub(channel)
            turns = stub.ListTurns(session_pb2.ListTurnsRequest(session_id="durable-1"), timeout=5)
    finally:
        loop_thread.run(server.stop())
    assert len(turns.turns) == 1
