"""The contracts: buf lint and format, generated code in step with protos, import roots."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def third_party_protos() -> None:
    result = _run("scripts/proto.sh", "deps")
    assert result.returncode == 0, result.stderr


def test_buf_lint_is_clean() -> None:
    result = _run(str(BUF), "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_format_is_clean() -> None:
    result = _run(str(BUF), "format", "--diff", "--exit-code")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_matches_the_protos() -> None:
    result = _run("scripts/proto.sh", "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_is_detected(tmp_path: Path) -> None:
    # Prove the check can fail: a copy of the bindings with one hand edit.
    copy = tmp_path / "switchboard"
    shutil.copytree(ROOT / "switchboard", copy, ignore=shutil.ignore_patterns("__pycache__"))
    stub = copy / "v1" / "common_pb2.pyi"
    stub.write_text(stub.read_text() + "\n# hand edit\n")
    result = _run("scripts/proto.sh", "check", str(copy))
    assert result.returncode != 0
    assert "drifted" in result.stderr


def test_every_service_has_its_own_proto_file() -> None:
    files = {p.stem for p in (ROOT / "protos" / "switchboard" / "v1").glob("*.proto")}
    assert {"router", "planner", "tool_broker", "governance", "pii", "session"} <= files
    assert {"common", "events"} <= files


@pytest.mark.parametrize("package", ["services", "mocks", "switchboard"])
def test_import_roots_resolve_inside_the_checkout(package: str) -> None:
    module = __import__(package)
    assert Path(module.__file__ or "").resolve().is_relative_to(ROOT)
