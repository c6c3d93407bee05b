"""The booking mock's flight search: a day with nothing bookable gives way to the next one with
something, when the caller asks for it (`fallback_days`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from mocks_testing import owned

from mocks.server import MockCluster
from mocks.world.reference import TIMEZONES


@pytest.fixture(scope="module")
def booking(cluster: MockCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.base_urls["booking"]) as client:
        yield client


def _search(booking: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    found = booking.get("/flights", params=params)
    assert found.status_code == 200, found.text
    flights: list[dict[str, Any]] = found.json()["flights"]
    return flights


def _trip_day(booking: httpx.Client, pnr: str) -> str:
    day: str = booking.get(f"/reservations/{pnr}", params=owned(pnr)).json()["segments"][0]["date"]
    return day


def test_only_a_day_with_nothing_bookable_gives_way_to_the_next(booking: httpx.Client) -> None:
    # K4M9TZ's DL2207 BOS-DEN is cancelled and nothing else flies that day; DL2209 the next.
    day = _trip_day(booking, "K4M9TZ")
    route = {"origin": "BOS", "destination": "DEN", "date": day}
    assert all(f["status"] == "cancelled" for f in _search(booking, **route))
    assert _search(booking, **route, cabin="economy") == []

    for cabin in ({}, {"cabin": "economy"}):
        later = _search(booking, **route, **cabin, fallback_days=1)
        (listed,) = {f["date"] for f in later}
        assert listed > day, later
        assert "DL2209" in [f["flight_number"] for f in later]
        assert all(f["status"] != "cancelled" for f in later)

    # SBX7Q2's UA123 ORD-SFO is cancelled too, but UA891 has seats that day: it stays.
    day = _trip_day(booking, "SBX7Q2")
    route = {"origin": "ORD", "destination": "SFO", "date": day, "cabin": "economy"}
    same_day = _search(booking, **route)
    assert "UA891" in [f["flight_number"] for f in same_day]
    assert _search(booking, **route, fallback_days=3) == same_day


def test_the_days_tried_are_bounded(booking: httpx.Client) -> None:
    params = {"origin": "BOS", "destination": "DEN", "date": _trip_day(booking, "K4M9TZ")}
    for days in (-1, 4):
        refused = booking.get("/flights", params={**params, "fallback_days": days})
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["location"] == "query.fallback_days"


def test_a_flights_schedule_comes_in_each_airports_local_time_too(booking: httpx.Client) -> None:
    day = _trip_day(booking, "SBX7Q2")
    flights = _search(booking, origin="ORD", destination="SFO", date=day)
    status = booking.get("/flights/UA891/status", params={"date": day})
    assert status.status_code == 200, status.text
    for flight in [next(f for f in flights if f["flight_number"] == "UA891"), status.json()]:
        utc = datetime.fromisoformat(flight["scheduled_departure"].replace("Z", "+00:00"))
        departs = datetime.fromisoformat(flight["scheduled_departure_local"])
        arrives = datetime.fromisoformat(flight["scheduled_arrival_local"])
        # The same instants, told in Chicago's and San Francisco's time, whatever the season.
        assert departs == utc
        assert departs.utcoffset() == utc.astimezone(ZoneInfo("America/Chicago")).utcoffset()
        assert departs.strftime("%H:%M") != utc.strftime("%H:%M")
        landing = datetime.fromisoformat(flight["scheduled_arrival"].replace("Z", "+00:00"))
        assert arrives == landing
        assert (
            arrives.utcoffset() == landing.astimezone(ZoneInfo("America/Los_Angeles")).utcoffset()
        )


def test_a_delayed_flights_expected_departure_comes_in_local_time_too(
    booking: httpx.Client, cluster: MockCluster
) -> None:
    assert cluster.world is not None
    flights = cluster.world.flights.values()
    delayed = next(f for f in flights if f.status == "delayed" and f.origin in TIMEZONES)
    cancelled = next(f for f in flights if f.status == "cancelled")
    told = booking.get(f"/flights/{delayed.flight_number}/status", params={"date": delayed.date})
    status = told.json()
    utc = datetime.fromisoformat(status["estimated_departure"].replace("Z", "+00:00"))
    local = datetime.fromisoformat(status["estimated_departure_local"])
    assert local == utc == delayed.scheduled_departure + timedelta(minutes=delayed.delay_minutes)
    zone = ZoneInfo(TIMEZONES[delayed.origin])
    assert local.utcoffset() == utc.astimezone(zone).utcoffset()
    gone = booking.get(
        f"/flights/{cancelled.flight_number}/status", params={"date": cancelled.date}
    ).json()
    assert gone["estimated_departure"] is None and "estimated_departure_local" not in gone


def test_a_flight_that_has_left_is_not_offered_in_a_cabin(
    booking: httpx.Client, cluster: MockCluster
) -> None:
    assert cluster.world is not None
    gone = next(
        f
        for f in cluster.world.flights.values()
        if f.status in ("departed", "landed") and f.seats_available("economy") > 0
    )
    route = {"origin": gone.origin, "destination": gone.destination, "date": gone.date}
    numbers = [f["flight_number"] for f in _search(booking, **route)]
    assert gone.flight_number in numbers
    bookable = _search(booking, **route, cabin="economy")
    assert gone.flight_number not in [f["flight_number"] for f in bookable]
    assert all(f["status"] not in ("cancelled", "departed", "landed") for f in bookable)
