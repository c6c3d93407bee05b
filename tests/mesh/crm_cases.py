"""The CRM's cases around a test that opens some: the world as it was found, afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from test_mesh_scenarios import calls

from mocks.common.app import backend_of
from services.mesh import Mesh


@contextlib.contextmanager
def cases_left_as_found(mesh: Mesh) -> Iterator[set[str]]:
    """The ids of the cases the world held before; those opened in the block (and the notes on
    them) are taken out of it afterwards, so C-1001's history stays as the other tests know it.
    The CRM's request log is emptied before and after: the storm scenario counts the notes
    written over the whole log."""
    world = mesh.mocks.world
    assert world is not None
    before = set(world.cases)
    backend_of(mesh.mocks.apps["crm"]).log.clear()
    try:
        yield before
    finally:
        for case_id in set(world.cases) - before:
            del world.cases[case_id]
        backend_of(mesh.mocks.apps["crm"]).log.clear()


def cases_opened(mesh: Mesh, customer: str) -> list[Any]:
    """The createCase requests the CRM received for the customer, oldest first."""
    return [r for r in calls(mesh, "crm", "createCase") if customer in r.path]
