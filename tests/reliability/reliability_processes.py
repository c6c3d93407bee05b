"""The mesh as separate processes on free loopback ports, each part started the way
`switchboard up` starts it (`python -m services.cli serve <name>`), so a test can SIGKILL one
service and start it again with the same environment.

`switchboard up` itself is not used: its supervisor stops the whole mesh as soon as one child
exits, which is the opposite of what a kill-and-restart test needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from harness import free_ports

from services.config import SERVICES, load_settings
from services.mesh import KUBE_NAMES, START_ORDER

ROOT = Path(__file__).resolve().parents[2]


def serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=0.5
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def serve_pids(kube_name: str) -> list[int]:
    """Processes whose command line runs `services.cli serve <kube_name>`, children of this one."""
    wanted = ["-m", "services.cli", "serve", kube_name]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        words = [a.decode(errors="replace") for a in argv]
        if parent == os.getpid() and words[1:] == wanted:
            found.append(int(entry.name))
    return found


class ProcessMesh:
    """The mocks and the six services, one process each, on free ports."""

    def __init__(self, data_dir: Path, overrides: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        defaults = load_settings()
        mock_names = list(defaults.mocks.ports)
        ports = free_ports(len(SERVICES) + len(mock_names))
        self.ports = dict(zip(SERVICES, ports, strict=False))
        self.mock_ports = dict(zip(mock_names, ports[len(SERVICES) :], strict=True))
        env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(data_dir)}
        env.pop("OPENAI_BASE_URL", None)  # the embedded engine: no model server involved
        for name, port in self.ports.items():
            env[f"SWITCHBOARD_{name.upper()}__PORT"] = str(port)
        env["SWITCHBOARD_MOCKS__PORTS"] = json.dumps(self.mock_ports)
        env["SWITCHBOARD_TOOL_BROKER__BACKENDS"] = json.dumps(
            {
                name: {
                    "openapi": str(backend.openapi),
                    "base_url": f"http://127.0.0.1:{self.mock_ports[name]}",
                }
                for name, backend in defaults.tool_broker.backends.items()
            }
        )
        env.update(overrides or {})
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def target(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def base_url(self, backend: str) -> str:
        return f"http://127.0.0.1:{self.mock_ports[backend]}"

    def start(self, name: str) -> None:
        """Start one part ("mocks" or a service's Python name) the way `switchboard up` does."""
        kube = KUBE_NAMES.get(name, name)
        log = (self.logs / f"{kube}.log").open("ab")
        with log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", kube],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def ready(self, name: str) -> bool:
        proc = self.procs[name]
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
        if name == "mocks":
            return all(_port_open(port) for port in self.mock_ports.values())
        return serving(self.target(name))

    def wait_ready(self, names: list[str], timeout: float = 120.0) -> None:
        # Polls a state (health SERVING, a port accepting), bounded by a hang guard.
        end = time.monotonic() + timeout
        pending = list(names)
        while pending:
            pending = [name for name in pending if not self.ready(name)]
            if pending and time.monotonic() > end:
                raise TimeoutError(f"not ready within {timeout:.0f} s: {pending}")
            if pending:
                time.sleep(0.1)

    def start_all(self) -> None:
        self.start("mocks")
        self.wait_ready(["mocks"])
        for name in START_ORDER:
            self.start(name)
        self.wait_ready(list(START_ORDER))

    def kill(self, name: str) -> int:
        """SIGKILL the service's process, found by its command line; its pid."""
        (pid,) = serve_pids(KUBE_NAMES[name])
        os.kill(pid, signal.SIGKILL)
        self.procs[name].wait(timeout=10)
        return pid

    def restart(self, name: str) -> None:
        self.start(name)
        self.wait_ready([name])

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{KUBE_NAMES.get(name, name)}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def process_mesh(data_dir: Path, overrides: dict[str, str] | None = None) -> Iterator[ProcessMesh]:
    running = ProcessMesh(data_dir, overrides)
    try:
        running.start_all()
        yield running
    finally:
        running.stop()
