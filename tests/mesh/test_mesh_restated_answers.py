"""Answers that come in other words than the question expected, through the whole mesh.

- A "yes" or "no" that restates the request waiting for the customer's word ("yes, withdraw it")
  is read as the answer, not as the request made again.
- A message the ladder asks about again (out of scope, or clarified) does not end the flow that
  waits for an answer: the next message may still answer it.
- "book the 12:40" picks the flight offered at that time, as "the 12:40 one" does.
"""

from __future__ import annotations

import pytest
from test_mesh_rebook_answers import proposed_flight
from test_mesh_scenarios import calls, finished, intent, pending_flow, reply, shown_at, turn
from wallet_customers import AskedWithdrawal, withdrawals_made

from services.mesh import Mesh
from switchboard.v1 import common_pb2, events_pb2

#: C-1005's trip is cancelled with no seats that day: the next day's DL2209 at 12:40 is offered
REBOOK = "I need to change my flight to tomorrow"


def fallbacks_of(events: list[events_pb2.TurnEvent]) -> list[events_pb2.Fallback]:
    return [e.fallback for e in events if e.WhichOneof("event") == "fallback"]


def test_a_yes_restating_the_request_makes_the_change(mesh: Mesh, asked: AskedWithdrawal) -> None:
    held = finished(asked.events)["createWithdrawal"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED

    answered = asked.say("yes, withdraw the 50 dollars")
    # The classifier reads the request again; the opening "yes" is the answer.
    assert intent(answered) == "withdrawal_request"
    made = finished(answered)["createWithdrawal"]
    assert made.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, reply(answered)
    assert withdrawals_made(mesh) == asked.made_before + 1
    assert "Not yet" not in reply(answered)


def test_a_no_restating_the_request_drops_it(mesh: Mesh, asked: AskedWithdrawal) -> None:
    answered = asked.say("nope, cancel that withdrawal of 50 dollars")
    assert intent(answered) == "withdrawal_request"
    assert "createWithdrawal" not in finished(answered)
    assert reply(answered).startswith("Alright, I won't go ahead with that.")
    # Nothing waits any more: a "yes" now changes nothing.
    after = asked.say("yes")
    assert "createWithdrawal" not in finished(after)
    assert withdrawals_made(mesh) == asked.made_before


def test_a_question_opening_with_ok_is_no_yes(mesh: Mesh, asked: AskedWithdrawal) -> None:
    question = asked.say("ok so you will withdraw 50 dollars?")
    assert intent(question) == "withdrawal_request"
    assert reply(question).startswith("Not yet: I'm waiting for your confirmation"), reply(question)
    assert withdrawals_made(mesh) == asked.made_before


@pytest.mark.parametrize(
    "hedged",
    [
        "sure, but",
        "ok but wait",
        "yes if it's free",
        "ok, hold on",
        "maybe",
        # Read as a yes with confidence ("fine" alone is one), but "whatever" hedges it.
        "ok fine whatever",
        # No hedging word, but a yes too unsure to act on: 0.51 against a no at 0.49, and 0.49
        # against thanks at 0.31 (the ladder wants 0.55 and a margin of 0.10).
        "no yes",
        "ok nice",
        # Above the ladder's 0.55 (0.69, thanks at 0.26), but under the 0.85 a yes needs.
        "cool",
    ],
)
def test_a_hedged_yes_is_no_confirmation(mesh: Mesh, asked: AskedWithdrawal, hedged: str) -> None:
    # Each reads as "confirm" (or opens with one), but none says go ahead.
    held = asked.say(hedged)
    assert "createWithdrawal" not in finished(held)
    assert reply(held).startswith("Not yet: I'm waiting for your confirmation"), reply(held)
    assert withdrawals_made(mesh) == asked.made_before
    # The change still waits: a plain yes makes it.
    made = asked.say("yes")
    assert finished(made)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert withdrawals_made(mesh) == asked.made_before + 1


def test_an_aside_the_ladder_answers_keeps_the_offer_open(mesh: Mesh) -> None:
    session = "aside-keeps-offer"
    offer = turn(mesh, session, REBOOK, "C-1005")
    assert shown_at("DL2209", "12:40").search(reply(offer)), reply(offer)
    assert pending_flow(mesh, session) == "rebook_flight"
    aside = turn(mesh, session, "what's the weather like in Denver today?", "C-1005")
    assert fallbacks_of(aside), reply(aside)
    assert pending_flow(mesh, session) == "rebook_flight"

    picked = turn(mesh, session, "the 12:40 one", "C-1005")
    held = finished(picked)["rebookReservation"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert proposed_flight(picked) == "DL2209"
    turn(mesh, session, "no", "C-1005")


def test_book_and_a_time_picks_the_flight_offered_then(mesh: Mesh) -> None:
    session = "book-at-a-time"
    before = len(calls(mesh, "booking", "rebookReservation"))
    turn(mesh, session, REBOOK, "C-1005")
    picked = turn(mesh, session, "book the 12:40", "C-1005")
    assert proposed_flight(picked) == "DL2209", reply(picked)
    assert "I'm about to move reservation " in reply(picked)
    turn(mesh, session, "no", "C-1005")
    assert len(calls(mesh, "booking", "rebookReservation")) == before
