"""Every request a backend saw, so tests can check what reached it and when."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class RequestRecord:
    """One request: what was asked, when it started and ended (Unix seconds), how it ended."""

    id: int
    method: str
    path: str
    query: dict[str, str]
    body: Any
    idempotency_key: str | None
    started_at: float
    operation_id: str | None = None
    ended_at: float | None = None
    status: int | None = None
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """A bounded, in-order log of requests."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._ids = itertools.count(1)

    def open(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        idempotency_key: str | None,
        started_at: float,
    ) -> RequestRecord:
        record = RequestRecord(
            id=next(self._ids),
            method=method,
            path=path,
            query=query,
            body=body,
            idempotency_key=idempotency_key,
            started_at=started_at,
        )
        self._records.append(record)
        return record

    def records(self) -> list[RequestRecord]:
        return list(self._records)

    def clear(self) -> None:
        self._records.clear()
