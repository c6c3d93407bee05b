"""The booking mock's upgrades: a segment moves up to business on its flight, paid for by one
miles redemption, and only when it can."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from mocks_testing import owned

from mocks.crm.app import redemption_price
from mocks.server import MockCluster
from mocks.world.model import Reservation


@pytest.fixture(scope="module")
def http(cluster: MockCluster) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: httpx.Client(base_url=url) for name, url in cluster.base_urls.items()}
    yield clients
    for client in clients.values():
        client.close()


def _upgradable(cluster: MockCluster) -> Reservation:
    world = cluster.world
    assert world is not None
    return next(
        r
        for r in world.reservations.values()
        if r.status == "confirmed"
        and r.fare_family != "basic"
        and len(r.passengers) == 1
        and r.segments[0].cabin == "economy"
        and (flight := world.flight(r.segments[0].flight_number, r.segments[0].date))
        and flight.status not in ("cancelled", "departed", "landed")
        and flight.scheduled_departure - world.now > timedelta(hours=2)
        and flight.seats_available("business") > 0
        and (customer := world.customers[r.customer_id]).miles
        >= 2 * redemption_price(customer.tier, "upgrade")
    )


def _redeem(http: dict[str, httpx.Client], customer_id: str, pnr: str, key: str) -> Any:
    price = next(
        o["miles"]
        for o in http["crm"].get(f"/customers/{customer_id}/loyalty").json()["redemption_options"]
        if o["kind"] == "upgrade"
    )
    answer = http["crm"].post(
        f"/customers/{customer_id}/loyalty/redemptions",
        json={"kind": "upgrade", "miles": price, "reference": pnr},
        headers={"Idempotency-Key": key},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["redemption"]["redemption_id"]


def test_a_segment_moves_up_to_business_once_per_redemption(
    cluster: MockCluster, http: dict[str, httpx.Client]
) -> None:
    trip = _upgradable(cluster)
    assert cluster.world is not None
    flight = cluster.world.flight(trip.segments[0].flight_number, trip.segments[0].date)
    assert flight is not None
    sold = dict(flight.sold)
    booking = http["booking"]
    owner = {"customer_id": trip.customer_id}

    offer = booking.get(f"/reservations/{trip.pnr}/upgrade", params=owner)
    assert offer.status_code == 200, offer.text
    assert offer.json()["cabin"] == "business" and offer.json()["segment_id"] == "S1"
    assert offer.json()["seats_available"] == flight.seats_available("business")

    # Unpaid: no redemption, or one that pays for nothing of this reservation.
    unpaid = booking.post(
        f"/reservations/{trip.pnr}/upgrade",
        params=owner,
        json={"segment_id": "S1", "redemption_id": "RD-1"},
        headers={"Idempotency-Key": "upgrade-unpaid"},
    )
    assert unpaid.status_code == 409, unpaid.text
    unnamed = booking.post(
        f"/reservations/{trip.pnr}/upgrade", params=owner, json={"segment_id": "S1"}
    )
    assert unnamed.status_code == 400, unnamed.text
    assert trip.segments[0].cabin == "economy"

    paid = _redeem(http, trip.customer_id, trip.pnr, "upgrade-redeem-1")
    body = {"segment_id": "S1", "redemption_id": paid}
    done = booking.post(
        f"/reservations/{trip.pnr}/upgrade",
        params=owner,
        json=body,
        headers={"Idempotency-Key": "upgrade-1"},
    )
    assert done.status_code == 200, done.text
    (segment,) = done.json()["segments"]
    assert (segment["cabin"], segment["fare_class"], segment["seats"]) == ("business", "J", {})
    assert flight.sold == {"economy": sold["economy"] - 1, "business": sold["business"] + 1}

    # The same request again is the same answer; a new one with the spent redemption is refused.
    replayed = booking.post(
        f"/reservations/{trip.pnr}/upgrade",
        params=owner,
        json=body,
        headers={"Idempotency-Key": "upgrade-1"},
    )
    assert replayed.status_code == 200 and replayed.headers.get("Idempotent-Replayed") == "true"
    again = booking.post(
        f"/reservations/{trip.pnr}/upgrade",
        params=owner,
        json=body,
        headers={"Idempotency-Key": "upgrade-2"},
    )
    assert again.status_code == 409, again.text
    assert flight.sold["business"] == sold["business"] + 1
    # Now in business, there is nothing left to upgrade.
    assert booking.get(f"/reservations/{trip.pnr}/upgrade", params=owner).status_code == 409


def test_a_trip_that_cannot_move_up_is_refused_with_a_conflict(
    cluster: MockCluster, http: dict[str, httpx.Client]
) -> None:
    assert cluster.world is not None
    booking = http["booking"]
    maya = owned("SBX7Q2")
    # SBX7Q2's flight is cancelled by the storm.
    cancelled = booking.get("/reservations/SBX7Q2/upgrade", params=maya)
    assert cancelled.status_code == 409 and "cancelled" in cancelled.json()["detail"]
    paid = _redeem(http, "C-1001", "SBX7Q2", "upgrade-redeem-storm")
    refused = booking.post(
        "/reservations/SBX7Q2/upgrade",
        params=maya,
        json={"segment_id": "S1", "redemption_id": paid},
        headers={"Idempotency-Key": "upgrade-storm"},
    )
    assert refused.status_code == 409
    assert cluster.world.reservations["SBX7Q2"].segments[0].cabin == "economy"
    basic = next(
        r
        for r in cluster.world.reservations.values()
        if r.status == "confirmed" and r.fare_family == "basic"
    )
    answer = booking.get(
        f"/reservations/{basic.pnr}/upgrade", params={"customer_id": basic.customer_id}
    )
    assert answer.status_code == 409 and "basic fare" in answer.json()["detail"]
    assert booking.get("/reservations/ZZZZZ9/upgrade", params=maya).status_code == 404
