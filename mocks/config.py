"""Settings of the mock enterprise backends."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from mocks.common.faults import FaultConfig

BACKENDS = ("booking", "crm", "payments", "claims", "knowledge")


def _default_ports() -> dict[str, int]:
    return {
        "booking": 8081,
        "crm": 8082,
        "payments": 8083,
        "claims": 8084,
        "knowledge": 8085,
        "model": 8086,
    }


class MocksSettings(BaseModel):
    """Where the mock backends listen, the world they serve and how they misbehave."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="address the mocks bind")
    ports: dict[str, int] = Field(
        default_factory=_default_ports,
        description="port of each mock backend, by name; 0 picks a free one",
    )
    seed: int = Field(default=7, description="seed of the generated world")
    customers: int = Field(
        default=5000, ge=0, le=200_000, description="generated airline/sportsbook customers"
    )
    members: int = Field(default=2000, ge=0, le=200_000, description="generated dental members")
    now: AwareDatetime | None = Field(
        default=None,
        description="the world's clock (flight statuses, 'tomorrow'); default: the start time",
    )
    faults: dict[str, FaultConfig] = Field(
        default_factory=dict,
        description="injected latency, errors and timeouts, by backend name",
    )
    validate_responses: bool = Field(
        default=True,
        description="answer 500 when a mock builds a response its own contract forbids",
    )
    stop_grace_s: float = Field(
        default=1.0, ge=0, le=60, description="seconds in-flight requests get on stop (at least 1)"
    )
