"""Detection under a time budget, failing closed.

Detection runs in a small thread pool so a slow text cannot stall the event loop. If it raises
or overruns its budget (or the caller's deadline, whichever is sooner) the caller gets an error,
never the unmasked text: a text that could not be checked does not go on to a model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from services.pii.masking import Masker
from services.runtime import deadline
from services.runtime.errors import DeadlineExceeded, SwitchboardError, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class DetectionGuard:
    """Runs the service's work (detection and masking, vault operations) in worker threads with
    a time budget."""

    def __init__(self, masker: Masker, budget_s: float, workers: int) -> None:
        self.masker = masker
        self.budget_s = budget_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pii-detect")

    async def run(self, job: Callable[[], T]) -> T:
        """``job`` (detection and masking, or a vault operation) in a worker thread, under the
        budget; DeadlineExceeded or Unavailable instead of a partial answer."""
        budget = deadline.timeout(self.budget_s)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._pool, job)
        try:
            return await asyncio.wait_for(work, budget)
        except TimeoutError:
            # The worker thread cannot be interrupted; it finishes in the background and its
            # result is dropped. Nothing it found is used.
            log.warning("PII work exceeded its %.3fs budget; failing closed", budget)
            raise DeadlineExceeded(
                "the PII service did not finish in time; nothing was released"
            ) from None
        except SwitchboardError:
            raise
        except Exception as error:  # noqa: BLE001 - any detector failure must fail closed
            log.error("PII work failed (%s); failing closed", type(error).__name__)
            raise Unavailable("the PII service failed; nothing was released") from error

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
