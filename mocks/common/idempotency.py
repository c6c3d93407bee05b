"""Idempotency keys: the same key gets the same answer and the effect happens once.

Requests with the same key are serialised by a lock per key, so two racing requests cannot both
run the operation: the second waits for the first and replays its answer. A key reused with a
different request is refused rather than silently answered with the other request's result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mocks.common.problems import Problem

T = TypeVar("T")


@dataclass(frozen=True)
class _Stored:
    fingerprint: str
    result: Any


class IdempotencyStore:
    """Results by idempotency key, with one lock per key."""

    def __init__(self) -> None:
        self._results: dict[str, _Stored] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def run(
        self,
        key: str,
        request: tuple[str, str, Any],
        operation: Callable[[], Awaitable[T]],
        keep: Callable[[T], bool] = lambda _: True,
    ) -> tuple[T, bool]:
        """Run ``operation`` once per key; return its result and whether it was replayed.

        ``request`` (method, path, body) fingerprints what the key was first used for; ``keep``
        decides whether a result is remembered (a failure the caller may retry is not).
        """
        fingerprint = json.dumps(request, sort_keys=True, default=str)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            stored = self._results.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise Problem(
                        422,
                        "idempotency-key-reused",
                        f"Idempotency-Key {key!r} was already used for a different request",
                    )
                return stored.result, True
            result = await operation()
            if keep(result):
                self._results[key] = _Stored(fingerprint, result)
            return result, False
