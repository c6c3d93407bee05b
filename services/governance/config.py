"""Governance settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from services.runtime.settings import ServiceSettings

GOVERNANCE_DIR = Path(__file__).resolve().parents[2] / "governance"

#: the pack that always applies, whether or not it is listed
BASE_PACK = "base"


class GovernanceSettings(ServiceSettings):
    """Which policy packs are in force."""

    port: int = Field(default=50054, ge=0, le=65535)
    packs_dir: Path = Field(default=GOVERNANCE_DIR / "packs", description="folder of policy packs")
    pack_schema: Path = Field(
        default=GOVERNANCE_DIR / "pack.schema.json",
        description="JSON Schema every policy pack must satisfy",
    )
    packs: list[str] = Field(
        default_factory=lambda: [BASE_PACK, "airline", "sportsbook", "dental"],
        description="packs in force, by file name without .yaml; the base pack always applies",
    )

    output_hold_chars: int = Field(
        default=600,
        ge=40,
        le=20_000,
        description="most reply text held back while waiting for a sentence to end",
    )

    @field_validator("packs")
    @classmethod
    def _distinct(cls, packs: list[str]) -> list[str]:
        seen = [name for index, name in enumerate(packs) if name in packs[:index]]
        if seen:
            raise ValueError(f"packs listed twice: {', '.join(sorted(set(seen)))}")
        return packs
