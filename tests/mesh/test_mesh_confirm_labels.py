"""An unclear answer to a change held for a yes is answered with the change and its two answers,
in the confirmation's own words; with nothing waiting, a yes is not offered. Through the whole
mesh. (The ladder's own wording of those answers, "say yes and go ahead", is the governance
service's: tests/governance/test_governance_intent_labels.py.)

The rebooking is never confirmed here: C-1001's cancelled trip stays as the storm scenario
expects it.
"""

from __future__ import annotations

from test_mesh_scenarios import calls, finished, reply, turn

from services.mesh import Mesh
from switchboard.v1 import events_pb2


def test_an_unclear_answer_to_a_held_change_names_the_change_and_its_answers(mesh: Mesh) -> None:
    session = "confirm-labels-1"
    before = len(calls(mesh, "booking", "rebookReservation"))
    turn(mesh, session, "I need to rebook SBX7Q2 onto a later flight", "C-1001")
    held = turn(mesh, session, "yes", "C-1001")
    assert "Reply yes to go ahead, or no to cancel." in reply(held), reply(held)

    # "hmm": most likely a greeting, perhaps a yes; neither sure enough to act on.
    unclear = turn(mesh, session, "hmm", "C-1001")
    (fallback,) = [e.fallback for e in unclear if e.WhichOneof("event") == "fallback"]
    assert fallback.action == events_pb2.FALLBACK_ACTION_CLARIFY
    assert "confirm" in fallback.options, fallback.options
    text = reply(unclear)
    assert text.startswith(
        "Not yet: I'm waiting for your confirmation before I move reservation SBX7Q2 from flight"
    ), text
    assert text.endswith("Reply yes to go ahead, or no to cancel."), text
    assert "rebookReservation" not in finished(unclear)

    turn(mesh, session, "no", "C-1001")
    assert len(calls(mesh, "booking", "rebookReservation")) == before


def test_with_nothing_waiting_a_yes_is_not_offered(mesh: Mesh) -> None:
    # The same "hmm" opening a conversation: nothing was asked, so "say yes and go ahead"
    # would answer nothing.
    unclear = turn(mesh, "confirm-labels-2", "hmm", "C-1002")
    (fallback,) = [e.fallback for e in unclear if e.WhichOneof("event") == "fallback"]
    assert fallback.action == events_pb2.FALLBACK_ACTION_CLARIFY
    assert fallback.options and not {"confirm", "decline"} & set(fallback.options)
    text = reply(unclear)
    assert "say yes" not in text and "say no" not in text, text
