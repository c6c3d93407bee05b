"""A real redis-server for tests: its own temp dir, a free 127.0.0.1 port, AOF on."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
from harness import free_port

_BINARY_HINT = "/usr/bin/redis-server"


def redis_server_binary() -> str:
    """The redis-server executable; fails the test (never skips) when it is missing."""
    found = shutil.which("redis-server") or (_BINARY_HINT if Path(_BINARY_HINT).exists() else None)
    if found is None:
        pytest.fail(
            "redis-server is not installed, and the Redis store tests need a real one: "
            "run `make setup` (or `make redis`; it installs redis-server via apt)",
            pytrace=False,
        )
    return found


class RedisServer:
    """One redis-server process; ``restart`` keeps its data directory, so data must persist."""

    def __init__(self, directory: Path) -> None:
        self.binary = redis_server_binary()
        self.directory = directory
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # A port found free can be taken before redis binds it; a few attempts make that moot.
        for _ in range(3):
            if self._launch(self.port or free_port()):
                return
            self.port = 0
        raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def _launch(self, port: int) -> bool:
        self.port = port
        self._process = subprocess.Popen(
            [
                self.binary,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--dir", str(self.directory),
                "--logfile", str(self.directory / "redis.log"),
                # Every write is on disk before it is acknowledged, as in a durable deployment.
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        try:
            give_up = time.monotonic() + 15
            while time.monotonic() < give_up:
                if self._process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.02)
            self.stop()
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        if not self._launch(self.port):
            self.start()
