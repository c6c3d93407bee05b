"""Helpers shared by the mock backends' tests."""

from __future__ import annotations

from datetime import UTC, datetime

from mocks.config import BACKENDS, MocksSettings

# A fixed clock makes the generated world, flight statuses included, the same on every run.
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# The demo reservations' owners: a reservation is read or changed only as its customer's.
OWNERS = {"SBX7Q2": "C-1001", "LQ3X8N": "C-1003", "K4M9TZ": "C-1005"}


def owned(pnr: str) -> dict[str, str]:
    """The query naming a demo reservation's owner, as its operations require."""
    return {"customer_id": OWNERS[pnr]}


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
