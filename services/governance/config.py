"""Governance settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings

GOVERNANCE_DIR = Path(__file__).resolve().parents[2] / "governance"


class GovernanceSettings(ServiceSettings):
    """Which policy packs are in force."""

    port: int = Field(default=50054, ge=0, le=65535)
    packs_dir: Path = Field(default=GOVERNANCE_DIR / "packs", description="folder of policy packs")
