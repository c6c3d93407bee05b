"""Checks that lock after too many failures in a row, for a while: a guessed surname or email."""

from __future__ import annotations

import time
from collections.abc import Callable


class Lockout:
    """Failures in a row by key; after ``tries`` of them the key is locked for ``seconds``, and
    its count starts again when the lock ends. A success resets the count."""

    def __init__(self, tries: int, seconds: int) -> None:
        self.tries = tries
        self.seconds = seconds
        self.clock: Callable[[], float] = time.monotonic
        self._failures: dict[str, int] = {}
        self._until: dict[str, float] = {}

    def locked(self, key: str) -> bool:
        """Whether the key's checks are locked now; an expired lock is dropped."""
        until = self._until.get(key)
        if until is not None and self.clock() < until:
            return True
        self._until.pop(key, None)
        return False

    def record(self, key: str, succeeded: bool) -> None:
        """Count a check of the key: a success resets its count, the last failure allowed
        locks it."""
        failures = 0 if succeeded else self._failures.get(key, 0) + 1
        if failures >= self.tries:
            failures = 0
            self._until[key] = self.clock() + self.seconds
        if failures:
            self._failures[key] = failures
        else:
            self._failures.pop(key, None)
