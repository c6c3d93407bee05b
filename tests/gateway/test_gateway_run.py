"""`gateway run`, as a pod or `make up` runs it: settings from the environment, drain on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from gateway_fakes import RouterStandIn
from gateway_support import ORIGIN

from services.config import load_settings
from services.gateway_runner import GatewaySettings
from services.runtime.errors import ConfigError
from services.runtime.server import GrpcServer


def wait_for_file(path: Path, process: subprocess.Popen[str], timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert process.poll() is None, process.communicate()
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    pytest.fail(f"{path} never appeared")


def listener_port(admin: str, timeout: float = 30) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://{admin}/listeners?format=json") as reply:
                (listener,) = json.load(reply)["listener_statuses"]
                return int(listener["local_address"]["socket_address"]["port_value"])
        except (OSError, ValueError):
            time.sleep(0.05)
    pytest.fail("the listener never came up")


def test_run_serves_until_sigterm_then_drains_and_exits_cleanly(
    tmp_path: Path, router_stand_in: tuple[RouterStandIn, GrpcServer]
) -> None:
    env = {
        **os.environ,
        "SWITCHBOARD_GATEWAY__PORT": "0",
        "SWITCHBOARD_GATEWAY__ADMIN_PORT": "0",
        "SWITCHBOARD_GATEWAY__CONCURRENCY": "1",
        "SWITCHBOARD_GATEWAY__DRAIN_S": "1",
        "SWITCHBOARD_GATEWAY__WORK_DIR": str(tmp_path),
        "SWITCHBOARD_GATEWAY__ROUTER_TARGETS": json.dumps([router_stand_in[1].target]),
        "SWITCHBOARD_GATEWAY__CORS_ORIGINS": json.dumps([ORIGIN, "https://other.example"]),
        "SWITCHBOARD_GATEWAY__ACCESS_LOG_PATH": str(tmp_path / "access.log"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.gateway_runner", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        admin = wait_for_file(tmp_path / "admin-address", process)
        port = listener_port(admin)
        reply = httpx.post(
            f"http://127.0.0.1:{port}/v1/sessions/run-1/turns", json={"text": "hi"}, timeout=20
        )
        assert reply.status_code == 200, reply.text
        rendered = (tmp_path / "envoy.yaml").read_text()
        assert 'exact: "https://other.example"' in rendered

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"-> router {router_stand_in[1].target}" in output


def test_environment_overrides_the_gateway_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_GATEWAY__PORT", "8443")
    monkeypatch.setenv(
        "SWITCHBOARD_GATEWAY__ROUTER_TARGETS", '["router-a:50051", "router-b:50051"]'
    )
    monkeypatch.setenv("SWITCHBOARD_GATEWAY__CORS_ORIGINS", '["https://a.example"]')
    settings = load_settings().gateway
    assert settings.port == 8443
    assert settings.router_targets == ["router-a:50051", "router-b:50051"]
    assert settings.cors_origins == ["https://a.example"]
    assert settings.drain_s == GatewaySettings().drain_s

    monkeypatch.setenv("SWITCHBOARD_GATEWAY__PORT", "eighty")
    with pytest.raises(ConfigError, match="gateway.port"):
        load_settings()
