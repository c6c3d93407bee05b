"""Planner settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings

PACKS_DIR = Path(__file__).resolve().parents[2] / "packs"


class PlannerSettings(ServiceSettings):
    """Where flows come from."""

    port: int = Field(default=50052, ge=0, le=65535)
    flows_dir: Path = Field(default=PACKS_DIR / "flows", description="folder of flow YAML files")
