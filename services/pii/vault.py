"""The per-session vault: placeholders in, originals out, encrypted at rest, with a TTL.

A placeholder such as ``<CARD_1>`` stands for the same value every time within a session. The
store never holds an original in clear: each one is sealed with AES-256-GCM (the session id and
placeholder bound as associated data, so a ciphertext cannot be replayed under another token),
and the "have I seen this value" index is an HMAC of the normalised value. Storage sits behind
:class:`VaultStore`: :class:`InMemoryVaultStore` for one process, ``RedisVaultStore``
(``services.pii.redis_vault``) for replicas that share sessions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.pii import entities as et
from services.runtime.errors import ConfigError

log = logging.getLogger(__name__)

KEY_BYTES = 32
_NONCE_BYTES = 12


def load_key(encoded: str) -> bytes:
    """The vault's master key from its base64 form; empty: a random key for this process only."""
    if not encoded:
        log.warning(
            "pii.vault_key is not set: using a random per-process key; placeholders will not "
            "survive a restart and replicas cannot share a vault"
        )
        return os.urandom(KEY_BYTES)
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        key = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ConfigError(f"pii.vault_key is not valid base64: {error}") from error
    if len(key) != KEY_BYTES:
        raise ConfigError(f"pii.vault_key must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def new_key() -> str:
    """A fresh key in the form ``pii.vault_key`` expects."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(master)


def _normalise(entity_type: str, value: str) -> str:
    # Two spellings of one value must share a placeholder: "4111 1111 1111 1111" is
    # "4111-1111-1111-1111"; "Anna Berg" is "anna  berg".
    if entity_type in (et.PERSON, et.ADDRESS):
        return " ".join(value.split()).casefold()
    return re.sub(r"[\s\-().]", "", value).casefold()


class VaultCipher:
    """Seals and opens originals; computes the lookup fingerprint of a value."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(_derive(master_key, b"switchboard/pii/vault/aes-gcm"))
        self._index_key = _derive(master_key, b"switchboard/pii/vault/index")

    @staticmethod
    def _bound(session_id: str, placeholder: str) -> bytes:
        return f"{session_id}\x00{placeholder}".encode()

    def seal(self, session_id: str, placeholder: str, value: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), self._bound(session_id, placeholder))
        return nonce + sealed

    def open(self, session_id: str, placeholder: str, ciphertext: bytes) -> str:
        nonce, sealed = ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:]
        plain = self._aead.decrypt(nonce, sealed, self._bound(session_id, placeholder))
        return plain.decode()

    def fingerprint(self, session_id: str, entity_type: str, value: str) -> str:
        message = f"{session_id}\x00{entity_type}\x00{_normalise(entity_type, value)}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    """What the store keeps for one placeholder: never the original in clear."""

    placeholder: str
    entity_type: str
    ciphertext: bytes


class VaultStore(Protocol):
    """Where sealed tokens live. Implementations must make :meth:`assign` atomic per session."""

    def assign(
        self,
        session_id: str,
        entity_type: str,
        fingerprint: str,
        seal: Callable[[str], bytes],
        now: float,
        expires_at: float,
    ) -> str:
        """The placeholder of ``fingerprint`` in the session, creating one (sealed by ``seal``,
        which receives the new placeholder) if it is new; extends the session's expiry."""

    def lookup(self, session_id: str, placeholder: str, now: float) -> TokenRecord | None:
        """The record of a placeholder, or None if unknown or expired."""

    def erase(self, session_id: str) -> int:
        """Delete a session's tokens; how many there were."""

    def purge_expired(self, now: float) -> int:
        """Delete every expired session; how many sessions were deleted."""

    def records(self, session_id: str, now: float) -> list[TokenRecord]:
        """Every live record of a session, in the order they were issued."""


@dataclass
class _Session:
    expires_at: float
    by_fingerprint: dict[str, str] = field(default_factory=dict)
    records: dict[str, TokenRecord] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


class InMemoryVaultStore:
    """A process-local store, guarded by a lock (detection threads and the event loop share it)."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def assign(
        self,
        session_id: str,
        entity_type: str,
        fingerprint: str,
        seal: Callable[[str], bytes],
        now: float,
        expires_at: float,
    ) -> str:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.expires_at <= now:
                # An expired session's tokens are gone even if the purge has not run yet.
                session = self._sessions[session_id] = _Session(expires_at=expires_at)
            session.expires_at = max(session.expires_at, expires_at)
            existing = session.by_fingerprint.get(fingerprint)
            if existing is not None:
                return existing
            number = session.counters.get(entity_type, 0) + 1
            session.counters[entity_type] = number
            placeholder = f"<{entity_type}_{number}>"
            session.records[placeholder] = TokenRecord(placeholder, entity_type, seal(placeholder))
            session.by_fingerprint[fingerprint] = placeholder
            return placeholder

    def lookup(self, session_id: str, placeholder: str, now: float) -> TokenRecord | None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= now:
                del self._sessions[session_id]
                return None
            return session.records.get(placeholder)

    def erase(self, session_id: str) -> int:
        with self._lock:
            session = self._sessions.pop(session_id, None)
            return 0 if session is None else len(session.records)

    def purge_expired(self, now: float) -> int:
        with self._lock:
            expired = [sid for sid, s in self._sessions.items() if s.expires_at <= now]
            for session_id in expired:
                del self._sessions[session_id]
            return len(expired)

    def records(self, session_id: str, now: float) -> list[TokenRecord]:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.expires_at <= now:
                return []
            return list(session.records.values())


class Vault:
    """Tokenises values per session and reveals them again while the session lives."""

    def __init__(
        self,
        store: VaultStore,
        master_key: bytes,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._cipher = VaultCipher(master_key)
        self.ttl_s = ttl_s
        self._clock = clock

    def tokenise(self, session_id: str, entity_type: str, value: str) -> str:
        """The session's placeholder for ``value``: the same one every time."""
        now = self._clock()
        return self.store.assign(
            session_id,
            entity_type,
            self._cipher.fingerprint(session_id, entity_type, value),
            lambda placeholder: self._cipher.seal(session_id, placeholder, value),
            now,
            now + self.ttl_s,
        )

    def reveal(self, session_id: str, placeholder: str) -> tuple[str, str] | None:
        """(entity type, original) of a placeholder, or None if unknown, expired or tampered."""
        record = self.store.lookup(session_id, placeholder, self._clock())
        if record is None:
            return None
        try:
            return record.entity_type, self._cipher.open(session_id, placeholder, record.ciphertext)
        except InvalidTag:
            log.error("vault record %s of a session failed authentication", placeholder)
            return None

    def originals(self, session_id: str, entity_type: str) -> list[str]:
        """The originals of every live placeholder of ``entity_type`` in the session.

        The service uses the session's PERSON originals as known names: a name seen once (said
        by the customer, or in a CRM record a tool returned) is masked wherever it appears later,
        in any case, whole or by part.
        """
        found: list[str] = []
        for record in self.store.records(session_id, self._clock()):
            if record.entity_type != entity_type:
                continue
            try:
                found.append(self._cipher.open(session_id, record.placeholder, record.ciphertext))
            except InvalidTag:
                log.error("vault record %s of a session failed authentication", record.placeholder)
        return found

    def erase(self, session_id: str) -> int:
        return self.store.erase(session_id)

    def purge_expired(self) -> int:
        return self.store.purge_expired(self._clock())
