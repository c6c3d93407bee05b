"""Session service settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from services.runtime.settings import ServiceSettings


class SessionSettings(ServiceSettings):
    """Which store keeps sessions, for how long, and how concurrent turns in one session behave."""

    port: int = Field(default=50056, ge=0, le=65535)
    store: Literal["sqlite", "redis"] = Field(
        default="sqlite",
        description="the session store: 'sqlite' (embedded, one host) or 'redis' (scale-out)",
    )
    sqlite_path: Path | None = Field(
        default=None, description="SQLite file; defaults to <data_dir>/sessions.db"
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description=(
            "SQLite synchronous mode; FULL syncs the WAL on every commit, so an acknowledged turn "
            "survives a power loss; NORMAL is faster but may lose the last commits"
        ),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis server, when store is 'redis'"
    )
    redis_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="longest wait for one Redis connect or reply"
    )
    redis_key_prefix: str = Field(
        default="switchboard:session:", min_length=1, description="prefix of every Redis key"
    )
    history_turns: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="turns whose messages (customer text and reply) are kept in a session",
    )
    ttl_s: float = Field(
        default=30 * 86_400.0,
        ge=0.001,
        description="seconds a session is kept after its last write; then it and its turns go",
    )
    purge_interval_s: float = Field(
        default=300.0, gt=0, description="how often expired SQLite sessions are deleted"
    )
    concurrent_turns: Literal["queue", "reject"] = Field(
        default="queue",
        description=(
            "a message arriving while a turn of the same session runs: 'queue' runs it after the "
            "running turn, 'reject' refuses it with ABORTED"
        ),
    )
    turn_lock: Literal["process", "redis"] = Field(
        default="process",
        description=(
            "where the router serialises the turns of one session: 'process' (each router "
            "process on its own) or 'redis' (across router processes and replicas, a lease at "
            "redis_url)"
        ),
    )
    turn_lock_lease_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description=(
            "longest a turn holds its session's Redis lease; a crashed router's lease frees "
            "itself after this (keep it above the longest turn)"
        ),
    )
    max_queued_turns: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="turns of one session that may wait behind a running one ('queue' only)",
    )
