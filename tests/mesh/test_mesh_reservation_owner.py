"""A reservation code is no key to another customer's trip: through the whole mesh, a signed-in
customer who types someone else's code reads nothing of it and changes nothing on it, and is
answered as for a code that does not exist. The reservation's own customer still can."""

from __future__ import annotations

import itertools

from test_mesh_scenarios import calls, finished, reply, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2

_ids = itertools.count()

#: C-1005's reservation (Elena Rossi, DL2207 BOS→DEN tomorrow, cancelled)
ELENAS = "K4M9TZ"
UNKNOWN = f"I couldn't find reservation {ELENAS}. Could you check the code?"


def _session() -> str:
    return f"reservation-owner-{next(_ids)}"


def test_another_customers_code_reads_nothing_and_cancels_nothing(mesh: Mesh) -> None:
    assert mesh.mocks.world is not None
    trip = mesh.mocks.world.reservations[ELENAS]
    assert trip.customer_id == "C-1005" and trip.status == "confirmed"
    session = _session()

    boarding = turn(mesh, session, f"get my boarding pass for {ELENAS}", "C-1001")
    read = finished(boarding)["getReservation"]
    assert (read.outcome, read.http_status) == (common_pb2.STEP_OUTCOME_FAILED, 404)
    assert reply(boarding) == UNKNOWN
    assert "DL2207" not in reply(boarding) and "Elena" not in reply(boarding)

    cancels = len(calls(mesh, "booking", "cancelReservation"))
    cancel = turn(mesh, session, f"cancel reservation {ELENAS}", "C-1001")
    assert finished(cancel)["getFareRules"].http_status == 404
    assert reply(cancel) == UNKNOWN
    # Nothing waits for a yes: a yes cancels nothing.
    turn(mesh, session, "yes", "C-1001")
    assert len(calls(mesh, "booking", "cancelReservation")) == cancels
    assert trip.status == "confirmed"


def test_the_reservations_own_customer_reads_it(mesh: Mesh) -> None:
    own = turn(mesh, _session(), f"get my boarding pass for {ELENAS}", "C-1005")
    assert finished(own)["getReservation"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(own).startswith("Flight DL2207 on "), reply(own)
    assert "is cancelled, so there is no boarding pass for it" in reply(own)
