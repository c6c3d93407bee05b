"""Tool-broker settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.settings import ServiceSettings

MOCKS_DIR = Path(__file__).resolve().parents[2] / "mocks"


class Backend(BaseModel):
    """One enterprise backend: its OpenAPI contract and where it answers."""

    model_config = ConfigDict(extra="forbid")

    openapi: Path = Field(description="path of the backend's OpenAPI 3.1 document")
    base_url: str = Field(description="base URL the backend answers on")


def _default_backends() -> dict[str, Backend]:
    return {
        "booking": Backend(
            openapi=MOCKS_DIR / "booking" / "openapi.yaml", base_url="http://127.0.0.1:8081"
        ),
    }


class ToolBrokerSettings(ServiceSettings):
    """The backends and how calls to them are bounded."""

    port: int = Field(default=50053, ge=0, le=65535)
    backends: dict[str, Backend] = Field(default_factory=_default_backends)
    call_timeout_s: float = Field(default=5.0, gt=0, le=120, description="one backend call")
