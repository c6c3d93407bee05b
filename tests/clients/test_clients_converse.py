"""The Node.js and Go channel-service examples, run as a user runs them, against a live mesh."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from clients_support import REPO, tool, tool_env

from services.mesh import Mesh

CLIENTS = ("go", "node")


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go client, built as `go run .` builds it (kept, so its exit status reaches us)."""
    binary = tmp_path_factory.mktemp("go-client") / "converse"
    subprocess.run(
        [tool("go"), "build", "-o", str(binary), "."],
        cwd=REPO / "clients" / "go",
        env=tool_env(),
        check=True,
        timeout=300,
    )
    return binary


@pytest.fixture
def run_client(go_binary: Path) -> Any:
    def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        if name == "go":
            command, cwd = [str(go_binary)], REPO / "clients" / "go"
        else:
            command, cwd = [tool("node"), "converse.js"], REPO / "clients" / "node"
        return subprocess.run(
            [*command, *args],
            cwd=cwd,
            env=tool_env(),
            capture_output=True,
            text=True,
            timeout=90,
        )

    return run


def router_flag(name: str) -> str:
    return "--router" if name == "node" else "-router"


@pytest.mark.parametrize("name", CLIENTS)
def test_two_turns_over_one_converse_stream(name: str, mesh: Mesh, run_client: Any) -> None:
    session = f"{name}-client-1"
    session_flag = "--session" if name == "node" else "-session"
    result = run_client(name, router_flag(name), mesh.target("router"), session_flag, session)

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("you [")] == [
        "you [turn-1]: Is flight UA 123 on time?",
        "you [turn-2]: Thanks!",
    ]
    for turn in ("turn-1", "turn-2"):
        mine = [line for line in lines if line.startswith(f"[{turn}] ")]
        assert mine[0].startswith(f"[{turn}] · turn started · session {session} · trace ")
        assert len(mine[0].rsplit(" ", 1)[1]) == 32  # the turn's trace id
        assert mine[-1].startswith(f"[{turn}] · completed in "), mine
        assert any(line.startswith(f"[{turn}] assistant: ") for line in mine), mine
    # The first turn went through the whole flight-status flow.
    assert "[turn-1] · intent   flight_status (" in result.stdout
    assert "[turn-1]   → " in result.stdout and " getFlightStatus(" in result.stdout
    # Turn 2 was sent only after turn 1 ended.
    assert lines.index("you [turn-2]: Thanks!") > max(
        i for i, line in enumerate(lines) if line.startswith("[turn-1] ")
    )


@pytest.mark.parametrize("name", CLIENTS)
def test_a_turn_the_router_refuses_is_rendered_and_fails_the_run(
    name: str, mesh: Mesh, run_client: Any
) -> None:
    result = run_client(name, router_flag(name), mesh.target("router"), "")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "[turn-1] · error INVALID_ARGUMENT: " in result.stdout


@pytest.mark.parametrize("name", CLIENTS)
def test_an_unreachable_router_is_a_clear_error(name: str, run_client: Any) -> None:
    deadline = ["--deadline", "5"] if name == "node" else ["-deadline", "5s"]
    result = run_client(name, router_flag(name), "127.0.0.1:9", *deadline)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: " in result.stderr and "UNAVAILABLE" in result.stderr.upper()
