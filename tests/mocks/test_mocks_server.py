"""The runner: backends on real sockets, ephemeral ports, a clean stop, and the CLI."""

from __future__ import annotations

import socket

import httpx
import pytest
from click.testing import CliRunner
from harness import LoopThread
from mocks_testing import small_settings

from mocks.cli import mocks
from mocks.config import BACKENDS, MocksSettings
from mocks.server import available_backends, start_mocks


def test_every_available_backend_starts_on_an_ephemeral_port_and_stops(
    loop_thread: LoopThread,
) -> None:
    cluster = loop_thread.run(start_mocks(small_settings()))
    try:
        assert set(cluster.base_urls) == set(available_backends()) >= set(BACKENDS)
        assert all(port > 0 for port in cluster.ports.values())
        for name in BACKENDS:
            url = cluster.base_urls[name]
            assert url == f"http://127.0.0.1:{cluster.ports[name]}"
            contract = httpx.get(f"{url}/openapi.json").json()
            assert contract["openapi"].startswith("3.1")
    finally:
        ports = cluster.ports
        loop_thread.run(cluster.stop())
    for port in ports.values():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))  # released


def test_unknown_backends_and_taken_ports_fail_clearly(loop_thread: LoopThread) -> None:
    with pytest.raises(ValueError, match="unknown mock backends"):
        loop_thread.run(start_mocks(small_settings(), ["bookings"]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = small_settings(ports={"knowledge": port})
        with pytest.raises(OSError, match=f"cannot bind 127.0.0.1:{port}"):
            loop_thread.run(start_mocks(settings, ["knowledge"]))


def test_default_settings_use_the_documented_ports() -> None:
    assert MocksSettings().ports == {
        "booking": 8081,
        "crm": 8082,
        "payments": 8083,
        "claims": 8084,
        "knowledge": 8085,
        "model": 8086,
    }


def test_the_cli_offers_serve() -> None:
    result = CliRunner().invoke(mocks, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--only" in result.output and "Ctrl-C" in result.output
