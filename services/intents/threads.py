"""Keep the classifier's matrix products on one BLAS thread.

The per-turn products are small (a dozen tokens by 384 or 1536 columns), where a second
BLAS thread buys little; and OpenBLAS worker threads spin while they wait, so on a busy
machine (a router next to other services, turns served concurrently) two threads made
encoding several times slower in wall time than one. The limit is process-wide while held,
so it wraps only the classifier's own numerical work.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]


@cache
def _controller() -> Any:
    return ThreadpoolController()


def one_blas_thread(*, rescan: bool = False) -> AbstractContextManager[Any]:
    """A context in which numpy's BLAS uses a single thread (about 50 µs to enter and leave).

    It limits the BLAS libraries loaded when it was first called; ``rescan`` looks for them
    again (~7 ms), for work that may have loaded another since: scipy, which scikit-learn
    imports to fit, brings an OpenBLAS of its own.
    """
    controller = ThreadpoolController() if rescan else _controller()
    limited: AbstractContextManager[Any] = controller.limit(limits=1, user_api="blas")
    return limited
