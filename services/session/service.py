"""The session service: the store the settings name, its servicer, and the retention task."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from grpc import aio

from services.config import Settings
from services.runtime.periodic import Periodic
from services.session.config import SessionSettings
from services.session.redis_store import RedisSessionStore
from services.session.servicer import SessionServicer
from services.session.sessions import Sessions
from services.session.sqlite_store import SqliteSessionStore
from services.session.store import SessionStore
from switchboard.v1 import session_pb2_grpc

log = logging.getLogger(__name__)


def make_store(settings: Settings) -> SessionStore:
    """The store ``settings.session`` names (not yet opened)."""
    section = settings.session
    if section.store == "redis":
        return RedisSessionStore(
            section.redis_url,
            ttl_s=section.ttl_s,
            key_prefix=section.redis_key_prefix,
            timeout_s=section.redis_timeout_s,
        )
    path = section.sqlite_path or settings.data_dir / "sessions.db"
    return SqliteSessionStore(path, ttl_s=section.ttl_s, synchronous=section.sqlite_synchronous)


class SessionService:
    """Conversation state and the audit trail, over SQLite or Redis."""

    name: str = "session"
    service_names: Sequence[str] = ("switchboard.v1.SessionService",)

    def __init__(self, settings: SessionSettings, store: SessionStore) -> None:
        self.settings = settings
        self.store = store
        self.sessions = Sessions(store, history_turns=settings.history_turns)
        # Expired sessions are already invisible to reads; purging only reclaims their space.
        self._purger = Periodic("session-purge", settings.purge_interval_s, store.purge_expired)

    def register(self, server: aio.Server) -> None:
        servicer = SessionServicer(self.sessions)
        session_pb2_grpc.add_SessionServiceServicer_to_server(servicer, server)

    async def start(self) -> None:
        await self.store.open()
        self._purger.start()

    async def stop(self) -> None:
        await self._purger.stop()
        await self.store.close()


def build(settings: Settings) -> SessionService:
    """The session service for these settings."""
    return SessionService(settings.session, make_store(settings))
