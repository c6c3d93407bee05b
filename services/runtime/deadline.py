"""The current request's deadline, carried in a context variable.

The server interceptor sets it from the incoming call; outgoing calls and backend requests take
their timeout from it, so a turn's deadline bounds everything the turn causes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from services.runtime.errors import DeadlineExceeded

_deadline: ContextVar[float | None] = ContextVar("switchboard_deadline", default=None)


def remaining() -> float | None:
    """Seconds left before the current deadline, or None when there is none."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return deadline - time.monotonic()


def timeout(default: float | None = None) -> float | None:
    """The timeout an outgoing call should use: the smaller of ``default`` and what is left.

    Raises DeadlineExceeded when the deadline has already passed, so no call is started that
    cannot finish.
    """
    left = remaining()
    if left is None:
        return default
    if left <= 0:
        raise DeadlineExceeded("the deadline passed before the call could start")
    return left if default is None else min(default, left)


def begin_request(seconds: float | None) -> None:
    """Make ``seconds`` from now the deadline of the request this task serves.

    gRPC runs every call in its own task, with its own copy of the context, so the value needs
    no reset; a streaming handler may be finished from another context, where a reset would fail.
    """
    _deadline.set(None if seconds is None else time.monotonic() + seconds)


@contextlib.contextmanager
def scope(seconds: float | None) -> Iterator[None]:
    """Run the block under a deadline ``seconds`` from now, never later than an outer one."""
    if seconds is None:
        yield
        return
    candidate = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(candidate if outer is None else min(outer, candidate))
    try:
        yield
    finally:
        _deadline.reset(token)
