from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import LoopThread
from mocks_testing import small_settings

from mocks.config import BACKENDS
from mocks.server import MockCluster, start_mocks


@pytest.fixture(scope="module")
def cluster(loop_thread: LoopThread) -> Iterator[MockCluster]:
    """The five enterprise backends on real sockets, shared by a test module."""
    running = loop_thread.run(start_mocks(small_settings(), BACKENDS))
    yield running
    loop_thread.run(running.stop())
