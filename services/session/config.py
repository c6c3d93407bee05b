"""Session service settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from services.runtime.settings import ServiceSettings


class SessionSettings(ServiceSettings):
    """Which store keeps sessions."""

    port: int = Field(default=50056, ge=0, le=65535)
    store: Literal["sqlite"] = Field(default="sqlite", description="the session store")
    sqlite_path: Path | None = Field(
        default=None, description="SQLite file; defaults to <data_dir>/sessions.db"
    )
    history_turns: int = Field(default=20, ge=0, le=1000, description="history kept in a session")
