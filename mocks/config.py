"""Settings of the mock enterprise backends."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MocksSettings(BaseModel):
    """Where the mock backends listen: each backend on its own port, counting up from base_port."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="address the mocks bind")
    ports: dict[str, int] = Field(
        default_factory=lambda: {"booking": 8081},
        description="port of each mock backend, by name",
    )
