"""The Go client's committed stubs are exactly what protos/ generate with the pinned plugins."""

from __future__ import annotations

import subprocess

from clients_support import REPO, tool_env


def test_go_stubs_match_the_protos() -> None:
    result = subprocess.run(
        [str(REPO / "scripts" / "clients-go-stubs.sh"), "check"],
        cwd=REPO,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_go_stubs_cover_the_public_api_only() -> None:
    generated = sorted(
        p.name for p in (REPO / "clients" / "go" / "gen" / "switchboard" / "v1").iterdir()
    )
    assert generated == [
        "common.pb.go",
        "events.pb.go",
        "router.pb.go",
        "router_grpc.pb.go",
        "session.pb.go",
    ]
