"""Settings shared by every service: where it listens and how its peers reach it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServiceSettings(BaseModel):
    """Where one gRPC service listens. Subclasses set the default port and add their own fields."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="address to bind")
    port: int = Field(default=0, ge=0, le=65535, description="port to bind; 0 picks a free one")
    address: str = Field(
        default="",
        description="how other services reach this one (host:port); defaults to host:port",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="worker processes sharing the port (SO_REUSEPORT); more than one needs a "
        "fixed port",
    )
    stop_grace_s: float = Field(
        default=5.0, ge=0, le=300, description="seconds in-flight calls get to finish on stop"
    )

    @property
    def target(self) -> str:
        """The address peers dial."""
        if self.address:
            return self.address
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::", "[::]") else self.host
        return f"{host}:{self.port}"
