"""HTTP calls to one backend: a pooled client, a concurrency limit, a breaker, safe retries."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.runtime import deadline
from services.runtime.errors import DeadlineExceeded
from services.tool_broker.config import Backend, ToolBrokerSettings
from services.tool_broker.resilience import BreakerState, CircuitBreaker, backoff_s

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO; backend URLs carry restored (real) PII.
logging.getLogger("httpx").setLevel(logging.WARNING)

# Statuses that say "not now" rather than "no": worth another attempt when a retry is safe.
_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class Failure(enum.Enum):
    """Why no usable HTTP response came back."""

    CIRCUIT_OPEN = "circuit_open"
    UNREACHABLE = "unreachable"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class BackendRequest:
    """One HTTP request, ready to send. ``retry_safe`` allows more than one attempt."""

    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    retry_safe: bool = False


@dataclass(frozen=True)
class Exchange:
    """What came of a request: the final response (status, body) or the failure, and attempts."""

    attempts: int
    status: int = 0
    body: Any = None
    failure: Failure | None = None
    error: str = ""


class BackendClient:
    """Calls to one backend. One instance per backend, shared by every step."""

    def __init__(
        self,
        name: str,
        backend: Backend,
        settings: ToolBrokerSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._settings = settings
        self._sleep = sleep
        limit = settings.max_concurrency
        self._http = httpx.AsyncClient(
            base_url=backend.base_url,
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            timeout=settings.call_timeout_s,
            transport=transport,
        )
        self._slots = asyncio.Semaphore(limit)
        self.breaker = CircuitBreaker(
            settings.breaker.failure_threshold, settings.breaker.reset_timeout_s
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, request: BackendRequest) -> Exchange:
        """Send the request, retrying what is safe to retry, within the current deadline."""
        retry = self._settings.retry
        max_attempts = retry.max_attempts if request.retry_safe else 1
        attempts = 0
        last = Exchange(attempts=0, failure=Failure.TIMED_OUT, error="no attempt could start")
        while attempts < max_attempts:
            if attempts:
                pause = backoff_s(attempts, retry.base_backoff_s, retry.max_backoff_s)
                left = deadline.remaining()
                if left is not None and left <= pause:
                    break  # no time left for another attempt: report the last one
                await self._sleep(pause)
            if self.breaker.state is BreakerState.OPEN:
                return self._open(attempts)
            try:
                # Never None: call_timeout_s bounds it.
                timeout = deadline.timeout(self._settings.call_timeout_s) or 0.0
            except DeadlineExceeded:
                break
            exchange = await self._attempt(request, timeout, attempts)
            if exchange is None:
                return self._open(attempts)
            if exchange.attempts == attempts:
                return exchange  # nothing was sent (no free slot in time)
            attempts = exchange.attempts
            last = exchange
            if not _worth_retrying(exchange):
                return exchange
            if not request.retry_safe:
                break
        return last

    async def _attempt(self, request: BackendRequest, limit_s: float, done: int) -> Exchange | None:
        """One attempt; None when the breaker refused it after the slot was won."""
        queued = True
        try:
            async with asyncio.timeout(limit_s), self._slots:
                queued = False
                if not self.breaker.allow():
                    return None
                response = await self._http.request(
                    request.method,
                    request.path,
                    params=dict(request.query),
                    headers=dict(request.headers),
                    json=request.json,
                    timeout=limit_s,
                )
        except (TimeoutError, httpx.TimeoutException):
            if queued:
                return Exchange(
                    attempts=done,
                    failure=Failure.TIMED_OUT,
                    error=f"no free connection to backend {self.name!r} within {limit_s:.3f}s "
                    f"({self._settings.max_concurrency} calls in flight)",
                )
            self._failed()
            return Exchange(
                attempts=done + 1,
                failure=Failure.TIMED_OUT,
                error=f"backend {self.name!r} did not answer {request.method} {request.path} "
                f"within {limit_s:.3f}s",
            )
        except asyncio.CancelledError:
            if not queued:
                self.breaker.abandon()
            raise
        except httpx.TransportError as error:
            self._failed()
            return Exchange(
                attempts=done + 1,
                failure=Failure.UNREACHABLE,
                error=f"backend {self.name!r} is unreachable: {type(error).__name__}: {error}",
            )
        if response.status_code >= 500:
            self._failed()
        else:
            self.breaker.record_success()
        return Exchange(attempts=done + 1, status=response.status_code, body=_body(response))

    def _failed(self) -> None:
        was_open = self.breaker.state is not BreakerState.CLOSED
        self.breaker.record_failure()
        if not was_open and self.breaker.state is BreakerState.OPEN:
            log.warning(
                "circuit of backend %s opened after %d consecutive failures; next trial in %.1fs",
                self.name,
                self.breaker.consecutive_failures,
                self.breaker.reset_timeout_s,
            )

    def _open(self, attempts: int) -> Exchange:
        return Exchange(
            attempts=attempts,
            failure=Failure.CIRCUIT_OPEN,
            error=f"circuit of backend {self.name!r} is open after "
            f"{self.breaker.consecutive_failures} consecutive failures; next trial in "
            f"{self.breaker.retry_after_s():.1f}s",
        )


def _worth_retrying(exchange: Exchange) -> bool:
    if exchange.failure is not None:
        return exchange.failure is not Failure.CIRCUIT_OPEN
    return exchange.status in _RETRYABLE_STATUSES


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return response.json()
        except ValueError:
            return response.text
    return response.text if media.startswith("text/") else None
