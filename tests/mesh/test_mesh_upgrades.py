"""Upgrading with miles through the whole mesh: put to the customer, made once on "yes"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from test_mesh_scenarios import calls, finished, pending_flow, reply, session_of, turn

from mocks.common.app import backend_of
from mocks.crm.app import redemption_price
from services.mesh import Mesh
from switchboard.v1 import common_pb2

ASK = "can I upgrade to business with my miles?"


@pytest.fixture(autouse=True)
def _crm_log(mesh: Mesh) -> Iterator[None]:
    """The CRM's request log emptied after each test: the storm scenario counts the
    redemptions made over the whole log."""
    yield
    backend_of(mesh.mocks.apps["crm"]).log.clear()


def _sent(mesh: Mesh, backend: str, operation: str, customer: str, pnr: str = "") -> list[Any]:
    """The requests of one operation the mock received about this customer or reservation."""
    return [
        r for r in calls(mesh, backend, operation) if customer in r.path or (pnr and pnr in r.path)
    ]


def _upgradable(mesh: Mesh, enough: bool) -> tuple[str, Any]:
    """A verified customer whose only reservation can move up to business, with miles enough
    for it or not. Taken from the end of the generated population, and on a flight more than
    two days off, away from the customers the other mesh tests look for."""
    world = mesh.mocks.world
    for customer_id in sorted(world.customers, reverse=True):
        customer = world.customers[customer_id]
        trips = world.reservations_of(customer_id)
        if customer.verification.status != "verified" or len(trips) != 1:
            continue
        (trip,) = trips
        segment = trip.segments[0]
        flight = world.flight(segment.flight_number, segment.date)
        if (
            trip.status == "confirmed"
            and trip.fare_family != "basic"
            and len(trip.passengers) == 1
            and segment.cabin == "economy"
            and flight is not None
            and flight.status not in ("cancelled", "departed", "landed")
            and flight.scheduled_departure - world.now > timedelta(hours=49)
            and flight.seats_available("business") > 0
            and (customer.miles >= redemption_price(customer.tier, "upgrade")) == enough
        ):
            return customer_id, trip
    raise AssertionError("the world has no such customer")


def test_a_cancelled_flight_is_not_upgraded_and_rebooking_is_offered(mesh: Mesh) -> None:
    # Elena's only trip, K4M9TZ, stays on cancelled DL2207 (C-1001's SBX7Q2 is the same case
    # until the storm scenario moves it onto UA891).
    world = mesh.mocks.world
    miles = world.customers["C-1005"].miles
    events = turn(mesh, "upgrade-1", ASK, "C-1005")
    offer = finished(events)["getUpgradeOffer"]
    assert offer.outcome == common_pb2.STEP_OUTCOME_FAILED and offer.http_status == 409
    text = reply(events)
    assert "DL2207" in text and "K4M9TZ" in text and "cancelled" in text, text
    assert "rebook my flight" in text and "Reply yes" not in text, text
    assert f"You have {miles:,} miles" in text, text
    assert not session_of(mesh, "upgrade-1").pending_plan.steps
    # Nothing waits for a "yes", and none changes anything.
    turn(mesh, "upgrade-1", "yes", "C-1005")
    assert not _sent(mesh, "crm", "redeemMiles", "C-1005", "K4M9TZ")
    assert not _sent(mesh, "booking", "upgradeReservation", "C-1005", "K4M9TZ")
    assert world.customers["C-1005"].miles == miles
    assert world.reservations["K4M9TZ"].segments[0].cabin == "economy"


def test_an_upgrade_waits_for_yes_and_is_made_exactly_once(mesh: Mesh) -> None:
    world = mesh.mocks.world
    customer_id, trip = _upgradable(mesh, enough=True)
    customer = world.customers[customer_id]
    balance, price = customer.miles, redemption_price(customer.tier, "upgrade")
    flight = trip.segments[0].flight_number

    asked = turn(mesh, "upgrade-2", ASK, customer_id)
    held = finished(asked)["redeemMiles"]
    assert held.outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert any(v.action == common_pb2.POLICY_ACTION_CONFIRM for v in held.verdicts)
    text = reply(asked)
    assert "Reply yes to go ahead" in text, text
    assert f"upgrade reservation {trip.pnr}, flight {flight} on " in text, text
    assert f"for {price:,} miles of your {balance:,}" in text, text
    assert not _sent(mesh, "crm", "redeemMiles", customer_id)
    assert not _sent(mesh, "booking", "upgradeReservation", customer_id, trip.pnr)

    done = turn(mesh, "upgrade-2", "yes", customer_id)
    results = finished(done)
    for tool in ("redeemMiles", "upgradeReservation"):
        assert results[tool].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, results[tool].error
    text = reply(done)
    assert f"reservation {trip.pnr} on flight {flight}" in text and "now in business" in text
    assert f"{price:,} miles spent, {balance - price:,} left" in text, text
    assert customer.miles == balance - price
    assert trip.segments[0].cabin == "business"

    # A second yes has nothing left to confirm: the miles were spent and the cabin moved once.
    again = turn(mesh, "upgrade-2", "yes", customer_id)
    assert "redeemMiles" not in finished(again)
    assert len(_sent(mesh, "crm", "redeemMiles", customer_id)) == 1
    assert len(_sent(mesh, "booking", "upgradeReservation", customer_id, trip.pnr)) == 1
    assert customer.miles == balance - price


def test_too_few_miles_say_how_many_more_and_change_nothing(mesh: Mesh) -> None:
    world = mesh.mocks.world
    customer_id, trip = _upgradable(mesh, enough=False)
    customer = world.customers[customer_id]
    balance, price = customer.miles, redemption_price(customer.tier, "upgrade")

    events = turn(mesh, "upgrade-3", ASK, customer_id)
    if "Reply yes" in reply(events):
        # The policy on the miles balance refuses the redemption before it is put to the
        # customer once the balance is known to it; until then the loyalty system refuses it.
        assert f"though your balance is {balance:,}" in reply(events), reply(events)
        events = turn(mesh, "upgrade-3", "yes", customer_id)
    text = reply(events)
    assert f"you'd need {price - balance:,} more" in text, text
    assert "I haven't changed anything" in text, text
    assert "upgradeReservation" not in {
        tool for tool, r in finished(events).items() if r.outcome != common_pb2.STEP_OUTCOME_SKIPPED
    }
    assert not _sent(mesh, "booking", "upgradeReservation", customer_id, trip.pnr)
    assert customer.miles == balance and trip.segments[0].cabin == "economy"


def test_several_trips_are_listed_and_the_one_chosen_is_the_one_looked_at(mesh: Mesh) -> None:
    customer = "C-5607"
    codes = [r.pnr for r in mesh.mocks.world.reservations_of(customer) if r.status == "confirmed"]
    assert len(codes) == 2, codes
    asked = turn(mesh, "upgrade-4", ASK, customer)
    text = reply(asked)
    assert "Which one should I upgrade?" in text and all(c in text for c in codes), text
    assert pending_flow(mesh, "upgrade-4") == "upgrade_with_miles"
    assert "getUpgradeOffer" not in {
        tool for tool, r in finished(asked).items() if r.outcome != common_pb2.STEP_OUTCOME_SKIPPED
    }
    shown = sorted(codes, key=text.index)

    answered = turn(mesh, "upgrade-4", "the second one", customer)
    (plan,) = [e.plan.plan for e in answered if e.WhichOneof("event") == "plan"]
    assert plan.flow == "upgrade_with_miles" and plan.slots["pnr"] == shown[1]
    offer = finished(answered)["getUpgradeOffer"]
    assert offer.outcome != common_pb2.STEP_OUTCOME_SKIPPED, offer.error
    assert shown[1] in _sent(mesh, "booking", "getUpgradeOffer", customer, shown[1])[-1].path
    # C-5607's identity is not verified, and DMJ5SB's flight has no business seat: either way
    # nothing is redeemed and nothing waits for a yes.
    assert not _sent(mesh, "crm", "redeemMiles", customer)
    assert not session_of(mesh, "upgrade-4").pending_plan.steps
