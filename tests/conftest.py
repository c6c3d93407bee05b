from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import LoopThread


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    """One background event loop for the servers of the whole test session."""
    loop = LoopThread()
    yield loop
    loop.close()
