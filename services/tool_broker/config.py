"""Tool-broker settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.runtime.settings import ServiceSettings

MOCKS_DIR = Path(__file__).resolve().parents[2] / "mocks"

# The mock enterprise backends and the ports they answer on by default.
_DEFAULT_PORTS = {"booking": 8081, "crm": 8082, "payments": 8083, "claims": 8084, "knowledge": 8085}


class Backend(BaseModel):
    """One enterprise backend: its OpenAPI contract and where it answers."""

    model_config = ConfigDict(extra="forbid")

    openapi: Path = Field(description="path of the backend's OpenAPI 3.1 document")
    base_url: str = Field(description="base URL the backend answers on")


def _default_backends() -> dict[str, Backend]:
    return {
        name: Backend(
            openapi=MOCKS_DIR / name / "openapi.yaml", base_url=f"http://127.0.0.1:{port}"
        )
        for name, port in _DEFAULT_PORTS.items()
    }


class RetrySettings(BaseModel):
    """Retries of backend calls that are safe to repeat (reads, idempotency-keyed mutations)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(
        default=3, ge=1, le=10, description="attempts per call, first included"
    )
    base_backoff_s: float = Field(
        default=0.05, ge=0, le=10, description="backoff before the first retry, doubled each time"
    )
    max_backoff_s: float = Field(default=1.0, ge=0, le=60, description="cap of one backoff")


class BreakerSettings(BaseModel):
    """The circuit breaker each backend has."""

    model_config = ConfigDict(extra="forbid")

    failure_threshold: int = Field(
        default=5, ge=1, le=1000, description="consecutive failures that open the circuit"
    )
    reset_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="seconds an open circuit waits before a trial call"
    )


class ToolBrokerSettings(ServiceSettings):
    """The backends and how calls to them are bounded."""

    port: int = Field(default=50053, ge=0, le=65535)
    backends: dict[str, Backend] = Field(default_factory=_default_backends)
    call_timeout_s: float = Field(default=5.0, gt=0, le=120, description="one backend call")
    default_deadline_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="deadline of a plan or call whose caller set none, so nothing can hang",
    )
    peer_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="one governance or pii call made for a step"
    )
    max_concurrency: int = Field(
        default=32, ge=1, le=10_000, description="calls in flight to one backend at a time"
    )
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @model_validator(mode="after")
    def _backoff_bounds(self) -> ToolBrokerSettings:
        if self.retry.max_backoff_s < self.retry.base_backoff_s:
            raise ValueError("retry.max_backoff_s must not be smaller than retry.base_backoff_s")
        return self
