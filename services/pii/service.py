"""The pii service: detection, masking and the per-session vault behind PiiService."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from grpc import aio

from services.config import Settings
from services.pii import entities as et
from services.pii.config import PiiSettings
from services.pii.detector import Detector
from services.pii.guard import DetectionGuard
from services.pii.masking import Masker
from services.pii.redis_vault import RedisVaultStore
from services.pii.servicer import PiiServicer
from services.pii.vault import InMemoryVaultStore, Vault, VaultStore, load_key
from services.runtime.memory import release_freed_memory
from services.runtime.periodic import Periodic
from switchboard.v1 import pii_pb2_grpc

log = logging.getLogger(__name__)


def masked_types(settings: PiiSettings) -> frozenset[str]:
    """The entity types the service masks."""
    if settings.masked_types is not None:
        return frozenset(settings.masked_types)
    return et.DIRECT_IDENTIFIERS | {pattern.type for pattern in settings.patterns}


def build_detector(settings: PiiSettings, *, every_type: bool = False) -> Detector:
    """The detector the settings describe; ``every_type`` also reports unmasked types."""
    return Detector(
        phone_regions=tuple(settings.phone_regions),
        patterns=tuple(settings.patterns),
        organizations=tuple(settings.organizations),
        min_score=settings.min_score,
        types=None if every_type else masked_types(settings),
        tagger_model=settings.tagger_model,
    )


def build_store(settings: PiiSettings) -> VaultStore:
    """The vault store the settings name."""
    if settings.vault_store == "redis":
        return RedisVaultStore(
            settings.redis_url,
            key_prefix=settings.redis_key_prefix,
            timeout_s=settings.redis_timeout_s,
        )
    return InMemoryVaultStore()


class PiiService:
    """Serves switchboard.v1.PiiService and purges expired vault sessions in the background."""

    name = "pii"
    service_names: Sequence[str] = ("switchboard.v1.PiiService",)

    def __init__(self, settings: PiiSettings, store: VaultStore | None = None) -> None:
        self.settings = settings
        self.vault = Vault(
            store or build_store(settings),
            load_key(settings.vault_key.get_secret_value()),
            settings.vault_ttl_s,
        )
        self.masker = Masker(build_detector(settings), self.vault, settings.person_fields)
        self.guard = DetectionGuard(self.masker, settings.detect_timeout_s, settings.detect_workers)
        self._purger = Periodic("pii-vault-purge", settings.purge_interval_s, self._purge)

    def register(self, server: aio.Server) -> None:
        servicer = PiiServicer(self.masker, self.guard, self.settings.max_text_chars)
        pii_pb2_grpc.add_PiiServiceServicer_to_server(servicer, server)

    async def start(self) -> None:
        if isinstance(self.vault.store, RedisVaultStore):
            await asyncio.to_thread(self.vault.store.ping)
        # The detector's encoder is built; what building it freed goes back (~130 MiB).
        release_freed_memory()
        self._purger.start()

    async def stop(self) -> None:
        await self._purger.stop()
        self.guard.close()
        if isinstance(self.vault.store, RedisVaultStore):
            self.vault.store.close()

    async def _purge(self) -> None:
        purged = self.vault.purge_expired()
        if purged:
            log.info("purged %d expired PII vault sessions", purged)


def build(settings: Settings) -> PiiService:
    """The pii service from the mesh settings."""
    return PiiService(settings.pii)
