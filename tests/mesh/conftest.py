"""Fixtures shared by the mesh tests."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from test_mesh_scenarios import finished, reply, turn
from wallet_customers import WITHDRAW, AskedWithdrawal, verified_customers, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2


@pytest.fixture
def asked(mesh: Mesh, request: pytest.FixtureRequest) -> Iterator[AskedWithdrawal]:
    """A withdrawal asked for and held for the customer's confirmation."""
    with verified_customers(mesh) as build:
        customer = build(("visa", "4242", False))
        # A parametrised test's name holds brackets and spaces, which a session id may not.
        name = re.sub(r"[^\w.:-]", "-", f"{request.module.__name__}-{request.node.name}")
        session = f"asked-{name}"[:128]
        events = turn(mesh, session, WITHDRAW, customer)
        held = finished(events)["createWithdrawal"]
        assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED, reply(events)
        yield AskedWithdrawal(mesh, customer, session, events, withdrawals_made(mesh))
