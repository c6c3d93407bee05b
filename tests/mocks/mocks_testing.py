"""Helpers shared by the mock backends' tests."""

from __future__ import annotations

from datetime import UTC, datetime

from mocks.config import BACKENDS, MocksSettings

# A fixed clock makes the generated world, flight statuses included, the same on every run.
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def small_settings(**overrides: object) -> MocksSettings:
    """Every backend on an ephemeral port over a small world, so tests start fast."""
    values: dict[str, object] = {
        "ports": dict.fromkeys((*BACKENDS, "model"), 0),
        "customers": 300,
        "members": 100,
        "stop_grace_s": 0,
    }
    values.update(overrides)
    return MocksSettings.model_validate(values)
