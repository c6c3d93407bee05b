"""Settings: defaults, file, environment, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config import load_settings
from services.runtime.errors import ConfigError


def test_defaults_put_every_service_on_its_fixed_port() -> None:
    settings = load_settings()
    ports = {
        name: settings.service(name).port
        for name in ("router", "planner", "tool_broker", "governance", "pii", "session")
    }
    assert ports == {
        "router": 50051,
        "planner": 50052,
        "tool_broker": 50053,
        "governance": 50054,
        "pii": 50055,
        "session": 50056,
    }
    assert settings.router.target == "127.0.0.1:50051"


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "switchboard.yaml"
    config.write_text("router:\n  port: 6051\n  max_text_chars: 100\n")
    monkeypatch.setenv("SWITCHBOARD_ROUTER__PORT", "7051")
    settings = load_settings(config)
    assert settings.router.port == 7051
    assert settings.router.max_text_chars == 100
    assert settings.planner.port == 50052


def test_an_invalid_value_names_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("router:\n  port: 70000\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert "router.port" in raised.value.message
    assert "SWITCHBOARD_ROUTER__PORT" in raised.value.message
    assert str(config) in raised.value.message


def test_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("router:\n  prot: 6051\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert "router.prot" in raised.value.message


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "list.yaml"
    config.write_text("- router\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config)


def test_the_identity_cache_is_set_by_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().router.identity_cache_ttl_s == 60.0
    config = tmp_path / "switchboard.yaml"
    config.write_text("router:\n  identity_cache_ttl_s: 30\n")
    assert load_settings(config).router.identity_cache_ttl_s == 30.0
    monkeypatch.setenv("SWITCHBOARD_ROUTER__IDENTITY_CACHE_TTL_S", "0")
    assert load_settings(config).router.identity_cache_ttl_s == 0.0


def test_an_identity_cache_that_outlives_the_vault_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "cache.yaml"
    config.write_text("router:\n  identity_cache_ttl_s: 600\npii:\n  vault_ttl_s: 600\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    message = raised.value.message
    assert "router.identity_cache_ttl_s (600)" in message and "pii.vault_ttl_s (600)" in message
    config.write_text("router:\n  identity_cache_ttl_s: -1\n")
    with pytest.raises(ConfigError, match="router.identity_cache_ttl_s"):
        load_settings(config)
