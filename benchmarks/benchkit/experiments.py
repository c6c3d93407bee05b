"""Candidate fixes for costs the profile shows, applied by patching: figures before and after.

These patch modules the benchmarks do not own, in this process only; they change nothing on
disk. Each names the change the owning module would make. Also usable as a pytest plugin to run
a service's tests with a change applied:
``SWITCHBOARD_BENCH_EXPERIMENTS=jinja-cache PYTHONPATH=benchmarks .venv/bin/pytest -p
benchkit.experiments tests/planner``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable


def jinja_cache() -> Callable[[], None]:
    """services/planner/flows.py compiles each reply and media template once, not every turn.

    The fix there: keep the compiled ``Template`` (compile at flow load, or wrap
    ``_ENV.from_string`` in ``functools.lru_cache``).
    """
    from services.planner import flows

    env = flows._ENV
    env.from_string = functools.lru_cache(maxsize=1024)(env.from_string)  # type: ignore[method-assign,assignment]

    def undo() -> None:
        del env.from_string

    return undo


#: name -> apply; applying returns the function that undoes it
EXPERIMENTS: dict[str, Callable[[], Callable[[], None]]] = {
    "jinja-cache": jinja_cache,
}


def apply(names: Iterable[str]) -> Callable[[], None]:
    """Apply the named experiments; return the function that undoes them all."""
    undos = []
    for name in names:
        if name not in EXPERIMENTS:
            raise SystemExit(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
        undos.append(EXPERIMENTS[name]())

    def undo() -> None:
        for step in reversed(undos):
            step()

    return undo


# As a pytest plugin (-p benchkit.experiments): apply what the environment names.
apply(n for n in os.environ.get("SWITCHBOARD_BENCH_EXPERIMENTS", "").split(",") if n)
