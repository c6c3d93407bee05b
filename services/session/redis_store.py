"""The scale-out session store: Redis, shared by every router replica.

Per session three keys, sharing a hash tag so they live on one Redis Cluster slot:
``<prefix>{<id>}:state`` (a hash: ``version`` and ``data``, the serialized Session),
``<prefix>{<id>}:turns`` (a list of serialized TurnRecords, oldest first) and
``<prefix>{<id>}:turn_ids`` (a set, for idempotent retries). Every write sets the same expiry on
all three, so retention is Redis key expiry and there is nothing to purge.

The versioned append is a Lua script: Redis runs it atomically, so the duplicate check, the version
check and the three writes cannot interleave with another writer. The new session itself is built
in Python beforehand (from a read of the same version), and the script refuses it if the version
moved in between.

Durability is the server's: run Redis with ``appendonly yes`` (``appendfsync everysec`` loses at
most a second of turns on a crash, ``always`` none).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.runtime.errors import Unavailable
from services.session.state import parse_session, parse_turn, version_conflict
from services.session.store import Transition
from switchboard.v1 import session_pb2

log = logging.getLogger(__name__)

# KEYS: state, turns, turn_ids. ARGV: turn_id, expected_version, session bytes, new version,
# turn bytes, ttl in ms. Returns {tag, payload}: 'recorded' + stored session bytes,
# 'conflict' + stored version, or 'written' + the new session bytes.
_APPEND = """
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  return {'recorded', redis.call('HGET', KEYS[1], 'data')}
end
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[2]) then
  return {'conflict', tostring(version)}
end
redis.call('HSET', KEYS[1], 'version', ARGV[4], 'data', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[1])
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ARGV[6])
end
return {'written', ARGV[3]}
"""

# KEYS: state. ARGV: version, session bytes, ttl in ms. Returns {created, stored session bytes}.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGET', KEYS[1], 'data')}
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, ARGV[2]}
"""


# Failures that pass: a lost connection, a slow server, a replica that is not (yet) the primary.
_TRANSIENT = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


@dataclass(frozen=True)
class _Connected:
    client: redis.Redis
    append: AsyncScript
    create: AsyncScript


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisSessionStore:
    """Sessions and turn records in Redis."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float,
        key_prefix: str = "switchboard:session:",
        timeout_s: float = 2.0,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.key_prefix = key_prefix
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self._connected: _Connected | None = None

    async def open(self) -> None:
        client = redis.Redis.from_url(
            self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
        )
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            await client.aclose()
            raise Unavailable(f"cannot reach Redis at {redact_url(self.url)}: {error}") from error
        # Script objects run EVALSHA and reload the script when the server has forgotten it.
        self._connected = _Connected(
            client, client.register_script(_APPEND), client.register_script(_CREATE)
        )
        log.info("session store: Redis %s", redact_url(self.url))

    async def close(self) -> None:
        if self._connected is not None:
            await self._connected.client.aclose()
            self._connected = None

    @asynccontextmanager
    async def _redis(self) -> AsyncIterator[_Connected]:
        if self._connected is None:
            raise Unavailable("the session store is not open")
        try:
            yield self._connected
        except _TRANSIENT as error:
            raise Unavailable(f"Redis at {redact_url(self.url)} failed: {error}") from error

    def _keys(self, session_id: str) -> tuple[str, str, str]:
        base = f"{self.key_prefix}{{{session_id}}}"
        return f"{base}:state", f"{base}:turns", f"{base}:turn_ids"

    async def get(self, session_id: str) -> session_pb2.Session | None:
        state, _, _ = self._keys(session_id)
        async with self._redis() as conn:
            # The client is made without decode_responses, so values come back as bytes.
            data = cast(bytes | None, await conn.client.hget(state, "data"))
        return None if data is None else parse_session(data)

    async def create(self, session: session_pb2.Session) -> tuple[session_pb2.Session, bool]:
        state, _, _ = self._keys(session.id)
        async with self._redis() as conn:
            created, data = await conn.create(
                keys=[state], args=[session.version, session.SerializeToString(), self.ttl_ms]
            )
        return parse_session(data), bool(created)

    async def append(
        self,
        session_id: str,
        expected_version: int,
        turn: session_pb2.TurnRecord,
        transition: Transition,
    ) -> session_pb2.Session:
        keys = self._keys(session_id)
        state, _, turn_ids = keys
        async with self._redis() as conn:
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.sismember(turn_ids, turn.turn_id)
                pipe.hmget(state, ["version", "data"])
                recorded, (version, data) = await pipe.execute()
            current = None if data is None else parse_session(data)
            if recorded and current is not None:
                return current
            stored_version = 0 if version is None else int(version)
            # The script checks again; this only spares building a session it would refuse.
            if stored_version != expected_version:
                raise version_conflict(session_id, stored_version, expected_version)
            session = transition(current)
            tag, payload = await conn.append(
                keys=list(keys),
                args=[
                    turn.turn_id,
                    expected_version,
                    session.SerializeToString(),
                    session.version,
                    turn.SerializeToString(),
                    self.ttl_ms,
                ],
            )
        if tag == b"written":
            return session
        if tag == b"recorded":
            # A concurrent retry of the same turn was recorded between our read and the script.
            return parse_session(payload)
        # A concurrent writer moved the version between our read and the script.
        raise version_conflict(session_id, int(payload), expected_version)

    async def list_turns(
        self, session_id: str, offset: int, limit: int
    ) -> list[session_pb2.TurnRecord] | None:
        state, turns, _ = self._keys(session_id)
        async with self._redis() as conn:
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.exists(state)
                pipe.lrange(turns, offset, offset + limit - 1)
                exists, rows = await pipe.execute()
        if not exists:
            return None
        return [parse_turn(row) for row in rows]

    async def delete(self, session_id: str) -> bool:
        state, turns, turn_ids = self._keys(session_id)
        async with self._redis() as conn:
            async with conn.client.pipeline(transaction=True) as pipe:
                pipe.delete(state)
                pipe.delete(turns, turn_ids)
                removed, _ = await pipe.execute()
        return bool(removed)

    async def purge_expired(self) -> int:
        # Redis expires the keys itself.
        return 0
