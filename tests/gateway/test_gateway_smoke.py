"""gateway/smoke.py, the script a person runs against a live gateway, passes and fails honestly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway_support import ORIGIN

from services.gateway_runner import REPO_ROOT, Gateway

SMOKE = REPO_ROOT / "gateway" / "smoke.py"


def smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SMOKE), *args], capture_output=True, text=True, timeout=60
    )


def test_the_smoke_script_sends_one_turn_per_protocol(gateway: Gateway) -> None:
    result = smoke("--gateway", gateway.address, "--origin", ORIGIN)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "grpc"],
        ["ok", "grpc-web"],
        ["ok", "rest"],
    ]
    assert all("turn_completed" in line for line in lines)


def test_the_smoke_script_fails_when_cors_refuses_the_origin(gateway: Gateway) -> None:
    result = smoke("--gateway", gateway.address, "--origin", "https://not-allowed.example")
    assert result.returncode == 1
    assert "FAIL grpc-web  CORS" in result.stdout


def test_the_smoke_script_fails_without_a_gateway(tmp_path: Path) -> None:
    result = smoke("--gateway", "127.0.0.1:9")
    assert result.returncode == 1
    assert result.stdout.count("FAIL") == 3
