"""Router settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings

PACKS_DIR = Path(__file__).resolve().parents[2] / "packs"


class RouterSettings(ServiceSettings):
    """The public API's limits and the turn's time budget."""

    port: int = Field(default=50051, ge=0, le=65535)
    turn_deadline_s: float = Field(
        default=15.0, gt=0, le=300, description="the most a turn may take, end to end"
    )
    understand_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="budget for stage 1 (session, PII, input check)"
    )
    max_text_chars: int = Field(
        default=4000, ge=1, le=100_000, description="longest customer message accepted"
    )
    max_concurrent_turns: int = Field(
        default=1000, ge=1, description="turns in flight before new ones are shed"
    )
    intents_dir: Path = Field(
        default=PACKS_DIR / "intents", description="folder of intent packs the classifier learns"
    )
    identity_tool: str = Field(
        default="getIdentityVerification",
        description="tool that tells whether the customer a channel names is verified "
        "(its result's status is 'verified'); empty: none",
    )
