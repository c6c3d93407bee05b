"""A question about a bet's settlement through the whole mesh: the trading team gets one case,
and what the customer adds about the bet goes on it as a note rather than into a case of its
own. C-1006 is a verified sportsbook customer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crm_cases import cases_left_as_found
from test_mesh_scenarios import calls, finished, reply, turn

from services.mesh import Mesh

VERIFIED = "C-1006"


@pytest.fixture
def cases(mesh: Mesh) -> Iterator[None]:
    with cases_left_as_found(mesh):
        yield


def test_what_is_added_about_a_bet_goes_on_its_case(mesh: Mesh, cases: None) -> None:
    assert mesh.mocks.world is not None
    session = "bet-settlement-1"
    asked = turn(
        mesh, session, "I placed a bet on the Lakers last night, was it settled?", VERIFIED
    )
    case_id = finished(asked)["createCase"].result["case_id"]
    assert f"I've opened case {case_id}" in reply(asked), reply(asked)
    # The case says what the customer asked, in their words.
    assert calls(mesh, "crm", "createCase")[-1].body["description"] == (
        "The customer asked in chat how a bet was settled. I placed a bet on the Lakers last "
        "night, was it settled"
    )
    assert "I'll add it to the case" in reply(asked), reply(asked)

    added = turn(mesh, session, "why did I only get half?", VERIFIED)
    assert "createCase" not in finished(added)
    assert reply(added).startswith(
        f"I've added that to case {case_id}: \"why did I only get half"
    ), reply(added)
    again = turn(mesh, session, "it was a parlay on Sunday's games", VERIFIED)
    assert "createCase" not in finished(again), reply(again)
    notes = [note.text for note in mesh.mocks.world.cases[case_id].notes]
    assert notes == [
        "The customer adds: why did I only get half",
        "The customer adds: it was a parlay on Sunday's games",
    ]

    # Another request is its own, not a note on the case, though it says "lost".
    phone = turn(mesh, session, "I lost my phone at the gate", VERIFIED)
    lost = mesh.mocks.world.cases[finished(phone)["createCase"].result["case_id"]]
    assert lost.subject == "Lost property: phone", reply(phone)
    assert len(mesh.mocks.world.cases[case_id].notes) == 2
    assert len(calls(mesh, "crm", "createCase")) == 2
