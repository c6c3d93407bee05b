"""Shared pieces of the governance tests: the mock backends' contracts, and settings."""

from __future__ import annotations

from typing import Any

from services.catalogue import Catalogue
from services.config import Settings, load_settings
from services.governance.config import GovernanceSettings
from services.governance.engine import Governance
from services.governance.packs import load_packs
from services.tool_broker.config import MOCKS_DIR, Backend

BACKENDS = ("booking", "crm", "payments", "claims", "knowledge")
BOOKING_OPENAPI = MOCKS_DIR / "booking" / "openapi.yaml"


def backends() -> dict[str, Backend]:
    """The mock backends' OpenAPI contracts: the tools the packs' rules are written for."""
    return {
        name: Backend(openapi=MOCKS_DIR / name / "openapi.yaml", base_url="http://127.0.0.1:1")
        for name in BACKENDS
    }


def settings_for(**governance: Any) -> Settings:
    """Settings whose tool broker knows the mock contracts, with ``governance`` overrides."""
    return load_settings(
        governance={"port": 0, **governance},
        tool_broker={"backends": {n: b.model_dump() for n, b in backends().items()}},
    )


def shipped_governance() -> Governance:
    """The shipped packs over the mock contracts, as a domain object."""
    return Governance(load_packs(GovernanceSettings()), Catalogue.load(backends()))
