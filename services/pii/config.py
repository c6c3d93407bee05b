"""PII service settings."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings


class PiiSettings(ServiceSettings):
    """The vault's lifetime."""

    port: int = Field(default=50055, ge=0, le=65535)
    vault_ttl_s: float = Field(default=86_400.0, gt=0, description="how long tokens are kept")
