"""A vault store in Redis, so every replica of the pii service shares a session's placeholders.

One session is three hashes under ``<prefix><session id>``: ``:fp`` (value fingerprint →
placeholder), ``:rec`` (placeholder → entity type and sealed original) and ``:n`` (entity type →
last number issued), all expiring together ``ttl`` after the session's last write. The store
never sees an original in clear: the vault seals it before it gets here.

Issuing a placeholder is compare-and-set: the store reads the type's counter, the vault seals the
value for the next number, and a script writes it only if the counter has not moved and the
value has no placeholder yet (otherwise it returns the winner's, or asks for another round).
Two replicas masking the same new value at once therefore agree on one placeholder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

from services.pii.vault import TokenRecord
from services.runtime.errors import Unavailable

log = logging.getLogger(__name__)

#: how many compare-and-set rounds :meth:`RedisVaultStore.assign` tries before giving up
MAX_ROUNDS = 16

# KEYS: fp, rec, n. ARGV: fingerprint, entity type, expected counter, placeholder, record, ttl ms.
# Returns {1, placeholder} when written or already there, {0, ''} when the counter moved.
_ASSIGN = """
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
  return {1, existing}
end
local current = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
if current ~= tonumber(ARGV[3]) then
  return {0, ''}
end
redis.call('HSET', KEYS[3], ARGV[2], current + 1)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {1, ARGV[4]}
"""

_SEPARATOR = b"\x00"


def _pack(entity_type: str, ciphertext: bytes) -> bytes:
    return entity_type.encode("ascii") + _SEPARATOR + ciphertext


def _unpack(placeholder: str, packed: bytes) -> TokenRecord:
    entity_type, _, ciphertext = packed.partition(_SEPARATOR)
    return TokenRecord(placeholder, entity_type.decode("ascii"), ciphertext)


class RedisVaultStore:
    """:class:`~services.pii.vault.VaultStore` on a Redis server (synchronous client: the vault
    is used from detection threads; the client's connection pool is thread-safe)."""

    def __init__(
        self, url: str, *, key_prefix: str = "switchboard:pii:", timeout_s: float = 2.0
    ) -> None:
        self.url = url
        self.key_prefix = key_prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._assign = self._client.register_script(_ASSIGN)

    def ping(self) -> None:
        """Fail with :class:`Unavailable` unless the server answers."""
        try:
            self._client.ping()
        except (RedisError, OSError) as error:
            raise Unavailable(f"cannot reach the PII vault's Redis: {error}") from error

    def close(self) -> None:
        self._client.close()

    def _keys(self, session_id: str) -> tuple[str, str, str]:
        base = f"{self.key_prefix}{session_id}"
        return f"{base}:fp", f"{base}:rec", f"{base}:n"

    def assign(
        self,
        session_id: str,
        entity_type: str,
        fingerprint: str,
        seal: Callable[[str], bytes],
        now: float,
        expires_at: float,
    ) -> str:
        keys = self._keys(session_id)
        ttl_ms = max(1, round((expires_at - now) * 1000))
        try:
            for _ in range(MAX_ROUNDS):
                with self._client.pipeline(transaction=False) as pipe:
                    pipe.hget(keys[0], fingerprint)
                    pipe.hget(keys[2], entity_type)
                    existing, counter = pipe.execute()
                if existing is not None:
                    # Seen before: the script only extends the session (no seal needed).
                    written, winner = self._assign(
                        keys=list(keys), args=[fingerprint, entity_type, -1, "", b"", ttl_ms]
                    )
                    if written:
                        return _text(winner)
                    continue
                current = int(counter or 0)
                placeholder = f"<{entity_type}_{current + 1}>"
                record = _pack(entity_type, seal(placeholder))
                written, winner = self._assign(
                    keys=list(keys),
                    args=[fingerprint, entity_type, current, placeholder, record, ttl_ms],
                )
                if written:
                    return _text(winner)
        except (RedisError, OSError) as error:
            raise Unavailable(f"the PII vault's Redis failed: {error}") from error
        raise Unavailable(f"could not issue a {entity_type} placeholder: the vault is too busy")

    def lookup(self, session_id: str, placeholder: str, now: float) -> TokenRecord | None:
        try:
            packed = self._client.hget(self._keys(session_id)[1], placeholder)
        except (RedisError, OSError) as error:
            raise Unavailable(f"the PII vault's Redis failed: {error}") from error
        return None if packed is None else _unpack(placeholder, _raw(packed))

    def erase(self, session_id: str) -> int:
        keys = self._keys(session_id)
        try:
            with self._client.pipeline() as pipe:
                pipe.hlen(keys[1])
                pipe.delete(*keys)
                count, _ = pipe.execute()
        except (RedisError, OSError) as error:
            raise Unavailable(f"the PII vault's Redis failed: {error}") from error
        return int(count)

    def purge_expired(self, now: float) -> int:
        # Redis expires the keys itself.
        return 0

    def records(self, session_id: str, now: float) -> list[TokenRecord]:
        try:
            found = self._client.hgetall(self._keys(session_id)[1])
        except (RedisError, OSError) as error:
            raise Unavailable(f"the PII vault's Redis failed: {error}") from error
        records = [_unpack(_text(k), _raw(v)) for k, v in found.items()]
        return sorted(records, key=lambda r: (r.entity_type, _number(r.placeholder)))


def _raw(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("ascii")


def _number(placeholder: str) -> int:
    return int(placeholder.rsplit("_", 1)[1].rstrip(">"))
