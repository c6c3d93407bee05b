"""Starting gateways for tests: ephemeral ports, one worker, logs in the test's folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from services.gateway_runner import Gateway, GatewaySettings, start_gateway

#: the one browser origin the test gateways allow
ORIGIN = "https://chat.example"


def gateway_settings_for_tests(**overrides: object) -> GatewaySettings:
    values: dict[str, object] = {
        "port": 0,
        "admin_port": 0,
        "concurrency": 1,
        "cors_origins": [ORIGIN],
        **overrides,
    }
    return GatewaySettings.model_validate(values)


def running_gateway(tmp: Path, router_target: str, **overrides: object) -> Iterator[Gateway]:
    """Envoy in front of ``router_target``, stopped when the generator closes."""
    settings = gateway_settings_for_tests(access_log_path=str(tmp / "access.log"), **overrides)
    gateway = start_gateway(
        settings, [router_target], work_dir=tmp, ready_timeout=30, log_file=tmp / "envoy.log"
    )
    try:
        yield gateway
    finally:
        gateway.stop()
