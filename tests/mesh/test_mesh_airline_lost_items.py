"""Something left on the plane or at the gate through the whole mesh: a lost property case at once,
in the customer's words, with the reservation of the flight named noted on it; a bag that did not
arrive or arrived damaged stays a baggage report."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crm_cases import cases_left_as_found, cases_opened
from test_mesh_scenarios import calls, finished, intent, reply, shown_day, turn

from mocks.common.app import backend_of
from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2


@pytest.fixture
def cases(mesh: Mesh) -> Iterator[None]:
    with cases_left_as_found(mesh):
        yield


def _no_fallback(events: list[events_pb2.TurnEvent]) -> None:
    assert not [e for e in events if e.WhichOneof("event") == "fallback"], reply(events)


def test_a_wallet_left_on_the_plane_gets_a_lost_property_case_with_the_flight(
    mesh: Mesh, cases: None
) -> None:
    world = mesh.mocks.world
    assert world is not None
    # SBX7Q2's flight as it is now (the storm scenario may have moved it off UA123).
    (segment,) = world.reservations["SBX7Q2"].segments
    flight = segment.flight_number
    said = f"I left my wallet on the plane on {flight}, can you help?"
    before = len(cases_opened(mesh, "C-1001"))

    events = turn(mesh, "lost-1", said, "C-1001")
    assert intent(events) == "lost_item"
    _no_fallback(events)
    created = finished(events)["createCase"]
    assert created.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, created.error
    (sent,) = cases_opened(mesh, "C-1001")[before:]
    assert sent.body == {
        "subject": "Lost property: wallet",
        "category": "lost_property",
        "description": f"Item: wallet. {said}",
    }
    case = world.cases[created.result["case_id"]]
    assert (case.customer_id, case.category) == ("C-1001", "lost_property")
    # The reservation on the flight named, with the flight's date, is noted on the case.
    assert [n.text for n in case.notes] == [
        f"Reservation SBX7Q2, flight {flight} on {segment.date.isoformat()}."
    ]
    text = reply(events)
    assert text == (
        f"I've opened lost property case {case.case_id} for your wallet (flight {flight} on "
        f"{shown_day(segment.date)}, reservation SBX7Q2). Our lost property team will look for "
        "it and contact you about it; please keep the case number for when you do. If you tell "
        "me what it looks like (colour, brand, a name tag), I'll add that to the case."
    ), text


def test_what_was_left_is_asked_when_the_message_does_not_say(mesh: Mesh, cases: None) -> None:
    before = len(cases_opened(mesh, "C-1001"))
    asked = turn(mesh, "lost-2", "I think I left something at the gate", "C-1001")
    assert intent(asked) == "lost_item"
    _no_fallback(asked)
    assert "createCase" not in finished(asked)
    assert reply(asked).startswith("What did you leave behind?"), reply(asked)

    answered = turn(mesh, "lost-2", "my ukulele", "C-1001")
    (sent,) = cases_opened(mesh, "C-1001")[before:]
    # The case keeps the report of the turn that asked, with the item the answer named.
    assert sent.body["subject"] == "Lost property: ukulele"
    assert sent.body["description"] == "Item: ukulele. I think I left something at the gate"
    case_id = finished(answered)["createCase"].result["case_id"]
    assert reply(answered).startswith(
        f"I've opened lost property case {case_id} for your ukulele."
    ), reply(answered)


def test_someone_elses_reservation_is_not_noted_on_the_case(mesh: Mesh, cases: None) -> None:
    # LQ3X8N is C-1003's: the case is opened, but nothing of that booking is read into it.
    events = turn(mesh, "lost-3", "I left my phone on the plane, booking LQ3X8N", "C-1001")
    assert intent(events) == "lost_item"
    results = finished(events, by="step_id")
    assert results["case"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results["case"].error
    assert results["noted"].outcome != common_pb2.STEP_OUTCOME_SUCCEEDED
    assert not calls(mesh, "crm", "addInteractionNote")
    assert "getReservation" not in finished(events)
    assert reply(events).startswith(
        f"I've opened lost property case {results['case'].result['case_id']} for your phone "
        "(reservation LQ3X8N)."
    ), reply(events)


def test_items_left_behind_and_bags_that_went_astray_are_told_apart(
    mesh: Mesh, cases: None
) -> None:
    said = {
        "I forgot my laptop at gate B12": "lost_property",
        "my passport is still in the seat pocket": "lost_property",
        "my bag didn't arrive": "baggage",
        "my suitcase is damaged": "baggage",
        "the airline lost my luggage": "baggage",
    }
    backend_of(mesh.mocks.apps["booking"]).log.clear()
    for number, (text, category) in enumerate(said.items()):
        before = len(cases_opened(mesh, "C-1001"))
        events = turn(mesh, f"lost-apart-{number}", text, "C-1001")
        assert intent(events) == ("lost_item" if category == "lost_property" else "baggage_issue")
        (sent,) = cases_opened(mesh, "C-1001")[before:]
        assert sent.body["category"] == category, text
        kind = "lost property" if category == "lost_property" else "baggage"
        assert reply(events).startswith(f"I've opened {kind} case "), reply(events)
    # "gate B12" names a gate, not a flight: no reservation is looked for.
    assert not calls(mesh, "booking", "listCustomerReservations")


def test_what_it_looks_like_is_added_to_the_case_just_opened(mesh: Mesh, cases: None) -> None:
    world = mesh.mocks.world
    assert world is not None
    before = len(cases_opened(mesh, "C-1001"))
    opened = turn(mesh, "lost-looks", "I forgot my headphones at gate B12", "C-1001")
    case_id = finished(opened)["createCase"].result["case_id"]
    assert "tell me what it looks like" in reply(opened), reply(opened)

    described = turn(mesh, "lost-looks", "they're black sony ones", "C-1001")
    _no_fallback(described)
    assert "createCase" not in finished(described)
    noted = finished(described)["addInteractionNote"]
    assert noted.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, noted.error
    assert [n.text for n in world.cases[case_id].notes] == [
        "What the customer says it looks like: they're black sony ones"
    ]
    assert reply(described) == (
        f"Thank you, I've added that to lost property case {case_id}: \"they're black sony "
        'ones". Our lost property team will see it when they look for your headphones.'
    ), reply(described)

    # Nothing waits any more: thanks is thanks, and nothing more reaches the case.
    thanked = turn(mesh, "lost-looks", "great, thanks!", "C-1001")
    assert intent(thanked) == "thanks"
    assert "addInteractionNote" not in finished(thanked)
    assert len(world.cases[case_id].notes) == 1
    assert len(cases_opened(mesh, "C-1001")) == before + 1


def test_what_a_bag_looks_like_is_added_to_its_baggage_case(mesh: Mesh, cases: None) -> None:
    world = mesh.mocks.world
    assert world is not None
    opened = turn(mesh, "bag-looks", "my suitcase didn't arrive", "C-1001")
    case_id = finished(opened)["createCase"].result["case_id"]
    assert reply(opened).endswith(
        "If you tell me what your bag looks like (colour, brand, a name tag), I'll add it to the "
        "case."
    ), reply(opened)

    # Thanks alone adds nothing, and the case still waits for what the bag looks like.
    thanked = turn(mesh, "bag-looks", "ok thank you", "C-1001")
    assert "addInteractionNote" not in finished(thanked)
    described = turn(
        mesh, "bag-looks", "it's a navy hard shell case with a yellow ribbon", "C-1001"
    )
    assert "createCase" not in finished(described)
    assert [n.text for n in world.cases[case_id].notes] == [
        "What the customer says it looks like: it's a navy hard shell case with a yellow ribbon"
    ]
    assert reply(described).startswith(f"Thank you, I've added that to baggage case {case_id}:"), (
        reply(described)
    )


def test_a_bag_described_by_its_maker_keeps_the_makers_name(mesh: Mesh, cases: None) -> None:
    """Makers' names are often persons' too (Samsonite, Tumi, Louis Vuitton); said of the bag,
    they are no personal data, and the case gets the word that finds it."""
    world = mesh.mocks.world
    assert world is not None
    opened = turn(mesh, "bag-maker", "my suitcase didn't arrive", "C-1001")
    case_id = finished(opened)["createCase"].result["case_id"]
    described = turn(
        mesh, "bag-maker", "it's a brown Louis Vuitton bag with a red ribbon", "C-1001"
    )
    assert finished(described)["addInteractionNote"].outcome == (common_pb2.STEP_OUTCOME_SUCCEEDED)
    assert [n.text for n in world.cases[case_id].notes] == [
        "What the customer says it looks like: it's a brown Louis Vuitton bag with a red ribbon"
    ]
    assert "brown Louis Vuitton bag" in reply(described), reply(described)
