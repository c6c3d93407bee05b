"""Finding the tools the clients run with, and the environment they run in."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"


def tool(name: str) -> str:
    """A tool scripts/tools.sh installs (or, for node and go, the machine's own)."""
    local = TOOLS_BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/tools.sh (make setup)")
    return found


def tool_env() -> dict[str, str]:
    """The clients' environment: the project's tools first on PATH, Go offline and pinned."""
    return {
        **os.environ,
        "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=readonly",
        "GOPROXY": "off",
    }
