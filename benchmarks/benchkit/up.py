"""`switchboard up` started by a benchmark: every service its own process, on free ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from benchkit.procstats import find_processes
from services.config import SERVICES, load_settings
from services.mesh import KUBE_NAMES

ROOT = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class UpMesh:
    """Runs `python -m services.cli up` with every port free and chosen here; stops it on exit.

    ``env`` adds ``SWITCHBOARD_*`` overrides, for example ``{"SWITCHBOARD_ROUTER__WORKERS": "2"}``.
    The data folder (sessions, logs, spans) is a new temporary one, removed on stop unless
    ``keep_data``.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 240.0,
        keep_data: bool = False,
    ) -> None:
        self.keep_data = keep_data
        self.data_dir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
        defaults = load_settings()
        mock_names = list(defaults.mocks.ports)
        ports = free_ports(len(SERVICES) + len(mock_names) + 2)
        self.gateway_port, admin_port = ports.pop(), ports.pop()
        self.ports = dict(zip(SERVICES, ports, strict=False))
        self.mock_ports = dict(zip(mock_names, ports[len(SERVICES) :], strict=True))
        self.env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(self.data_dir)}
        for name, port in self.ports.items():
            self.env[f"SWITCHBOARD_{name.upper()}__PORT"] = str(port)
        self.env["SWITCHBOARD_MOCKS__PORTS"] = json.dumps(self.mock_ports)
        self.env["SWITCHBOARD_GATEWAY__PORT"] = str(self.gateway_port)
        self.env["SWITCHBOARD_GATEWAY__ADMIN_PORT"] = str(admin_port)
        self.env["SWITCHBOARD_TOOL_BROKER__BACKENDS"] = json.dumps(
            {
                name: {"openapi": str(b.openapi), "base_url": self.mock_url(name)}
                for name, b in defaults.tool_broker.backends.items()
            }
        )
        self.env.update(env or {})
        self.ready_timeout = ready_timeout
        self.output: list[str] = []
        self._ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def target(self, service: str) -> str:
        """gRPC address of a service ("router", "tool_broker", ...)."""
        return f"127.0.0.1:{self.ports[service]}"

    def mock_url(self, backend: str) -> str:
        """Base URL of a mock backend ("booking", ..., "model")."""
        return f"http://127.0.0.1:{self.mock_ports[backend]}"

    @property
    def gateway(self) -> str:
        return f"127.0.0.1:{self.gateway_port}"

    def pids(self, service: str | None = None) -> list[int]:
        """Pids of a service's processes (its worker supervisor too), or of every service."""
        assert self.proc is not None
        if service is None:
            return find_processes(b"services.cli serve", under=self.proc.pid)
        marker = f"services.cli serve {KUBE_NAMES[service]}".encode()
        return [
            pid
            for pid in find_processes(marker, under=self.proc.pid)
            if _cmdline(pid).rstrip().endswith(marker)
        ]

    def mock_pids(self) -> list[int]:
        """Pids of the mock backends' process."""
        assert self.proc is not None
        return find_processes(b"services.cli serve mocks", under=self.proc.pid)

    def start(self) -> UpMesh:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        started = time.monotonic()
        self._ready.wait(self.ready_timeout)
        if self.proc.poll() is not None or not any(
            line.startswith("stop: Ctrl-C") for line in self.output
        ):
            self.stop()
            raise RuntimeError(
                f"switchboard up did not become ready in {time.monotonic() - started:.0f} s:\n"
                + "".join(self.output[-40:])
            )
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if line.startswith("stop: Ctrl-C"):
                self._ready.set()
        self._ready.set()

    def stop(self) -> None:
        """Stop the mesh (SIGINT, as Ctrl-C) and remove its data folder unless ``keep_data``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> UpMesh:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""
