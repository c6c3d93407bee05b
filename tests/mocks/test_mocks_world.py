"""One coherent, deterministic world: the demo identities agree across every backend."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from harness import LoopThread
from mocks_testing import NOW, owned, small_settings

from mocks.server import MockCluster, start_mocks
from mocks.world import build_world
from mocks.world.reference import TIMEZONES


@pytest.fixture(scope="module")
def http(cluster: MockCluster) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: httpx.Client(base_url=url) for name, url in cluster.base_urls.items()}
    yield clients
    for client in clients.values():
        client.close()


def test_c1001_is_gold_with_a_storm_cancelled_flight_and_a_later_open_one(
    http: dict[str, httpx.Client],
) -> None:
    customer = http["crm"].get("/customers/C-1001").json()
    assert (customer["tier"], customer["miles"]) == ("gold", 84_000)

    reservation = http["booking"].get("/reservations/SBX7Q2", params=owned("SBX7Q2")).json()
    assert reservation["customer_id"] == "C-1001"
    (segment,) = reservation["segments"]
    assert segment["flight_number"] == "UA123"
    assert reservation["passengers"][0]["last_name"] == customer["last_name"]

    status = http["booking"].get("/flights/UA123/status").json()
    assert status["status"] == "cancelled"
    assert "storm" in status["reason"] and status["reason"].startswith("weather")
    assert status["estimated_departure"] is None

    flights = (
        http["booking"]
        .get("/flights", params={"origin": "ORD", "destination": "SFO", "date": segment["date"]})
        .json()["flights"]
    )
    later = [f for f in flights if f["scheduled_departure"] > status["scheduled_departure"]]
    assert later[0]["seats_available"] == {"economy": 0, "business": 0}
    assert later[1]["seats_available"]["economy"] > 0

    cards = http["payments"].get("/customers/C-1001/payment-methods").json()["payment_methods"]
    assert {c["status"] for c in cards} == {"active", "expired"}
    charges = (
        http["payments"]
        .get("/customers/C-1001/charges", params={"reference": "SBX7Q2"})
        .json()["charges"]
    )
    assert charges[0]["amount_cents"] == reservation["total_cents"]


def test_c1002_has_a_withdrawal_pending_for_five_days(http: dict[str, httpx.Client]) -> None:
    withdrawal = http["payments"].get("/withdrawals/W-5001?customer_id=C-1002").json()
    assert withdrawal["customer_id"] == "C-1002"
    # Read as another wallet's owner, or as nobody's, it is not there.
    assert http["payments"].get("/withdrawals/W-5001?customer_id=C-1006").status_code == 404
    assert http["payments"].get("/withdrawals/W-5001").status_code == 400
    assert (withdrawal["status"], withdrawal["days_waiting"]) == ("pending", 5)
    wallet = http["payments"].get("/wallets/C-1002").json()
    assert wallet["pending_withdrawals"] >= 1
    customer = http["crm"].get("/customers/C-1002").json()
    assert customer["has_sportsbook_wallet"] is True
    assert customer["verification_status"] == "pending_documents"


def test_m3001_has_claim_cl9001_under_review_visible_to_p7001(
    http: dict[str, httpx.Client],
) -> None:
    claim = http["claims"].get("/claims/CL-9001", params={"provider_id": "P-7001"}).json()
    assert (claim["member_id"], claim["status"]) == ("M-3001", "under_review")
    assert claim["lines"][0]["procedure_code"] == "D2740"
    assert [e["status"] for e in claim["history"]] == ["received", "under_review"]
    next_tuesday = _next_weekday(date.fromisoformat(claim["date_of_service"]) + timedelta(30), 1)
    eligibility = (
        http["claims"]
        .get(
            "/members/M-3001/eligibility",
            params={
                "provider_id": "P-7001",
                "procedure_code": "D2740",
                "date_of_service": next_tuesday.isoformat(),
            },
        )
        .json()
    )
    assert eligibility["eligible"] is True
    assert eligibility["coverage_percent"] == 50
    other = http["claims"].get("/claims/CL-9001", params={"provider_id": "P-7002"})
    assert other.status_code == 403


def test_m3001_reads_their_own_claims_and_plan_without_an_office(
    http: dict[str, httpx.Client],
) -> None:
    claims = http["claims"]
    # The member names no office: every claim of theirs, newest first, as listCustomerReservations
    # lists a customer's trips.
    listed = claims.get("/members/M-3001/claims")
    assert listed.status_code == 200, listed.text
    assert [c["claim_id"] for c in listed.json()["claims"]] == ["CL-9001", "CL-9002"]
    paid = claims.get("/members/M-3001/claims", params={"status": "paid"}).json()["claims"]
    assert [c["claim_id"] for c in paid] == ["CL-9002"]
    # An office still sees only what it submitted; an unknown one nothing at all.
    office = claims.get("/members/M-3001/claims", params={"provider_id": "P-7001"}).json()
    assert [c["claim_id"] for c in office["claims"]] == ["CL-9001", "CL-9002"]
    unknown = claims.get("/members/M-3001/claims", params={"provider_id": "P-0001"})
    assert unknown.status_code == 403
    # A claim is read by naming its member, and refused to another member or to nobody.
    own = claims.get("/claims/CL-9001", params={"member_id": "M-3001"})
    assert own.status_code == 200 and own.json()["status"] == "under_review"
    assert claims.get("/claims/CL-9001", params={"member_id": "M-3002"}).status_code == 403
    assert claims.get("/claims/CL-9001").status_code == 403
    both = {"member_id": "M-3001", "provider_id": "P-7001"}
    assert claims.get("/claims/CL-9001", params=both).status_code == 200
    benefits = claims.get("/members/M-3001/benefits")
    assert benefits.status_code == 200 and benefits.json()["plan_id"] == "PLAN-PPO-PLUS"


def test_a_customers_reservations_can_be_narrowed_to_one_flight(
    http: dict[str, httpx.Client],
) -> None:
    def pnrs(**query: str) -> list[str]:
        listed = http["booking"].get("/customers/C-1001/reservations", params=query)
        assert listed.status_code == 200, listed.text
        return [r["pnr"] for r in listed.json()["reservations"]]

    assert pnrs() == ["SBX7Q2"]
    assert pnrs(flight_number="UA123", status="confirmed") == ["SBX7Q2"]
    assert pnrs(flight_number="UA457") == []
    spaced = {"flight_number": "UA 123"}  # not the contract's shape
    assert http["booking"].get("/customers/C-1001/reservations", params=spaced).status_code == 400


def test_the_messy_cases_are_there(http: dict[str, httpx.Client]) -> None:
    mismatch = http["booking"].get("/reservations/LQ3X8N", params=owned("LQ3X8N")).json()
    profile = http["crm"].get(f"/customers/{mismatch['customer_id']}").json()
    assert mismatch["passengers"][0]["first_name"] != profile["first_name"]

    expired = http["payments"].get("/customers/C-1004/payment-methods").json()
    assert {c["status"] for c in expired["payment_methods"]} == {"expired"}

    stranded = (
        http["booking"].get("/reservations/K4M9TZ", params=owned("K4M9TZ")).json()["segments"][0]
    )
    assert stranded["flight_status"] == "cancelled"
    same_day = (
        http["booking"]
        .get("/flights", params={"origin": "BOS", "destination": "DEN", "date": stranded["date"]})
        .json()["flights"]
    )
    assert all(f["status"] == "cancelled" for f in same_day)


def test_a_charge_is_read_only_by_the_customer_charged(http: dict[str, httpx.Client]) -> None:
    payments = http["payments"]
    (charge, *_) = payments.get("/customers/C-1003/charges").json()["charges"]
    path = f"/charges/{charge['charge_id']}"
    own = payments.get(path, params={"customer_id": "C-1003"})
    assert own.status_code == 200 and own.json()["customer_id"] == "C-1003"
    # Another customer's charge is as unknown as a charge that does not exist.
    assert payments.get(path, params={"customer_id": "C-1001"}).status_code == 404
    assert payments.get(path).status_code == 400


def test_the_world_is_deterministic_for_a_seed_and_large_by_default() -> None:
    first = build_world(seed=3, customers=150, members=40, now=NOW)
    again = build_world(seed=3, customers=150, members=40, now=NOW)
    other = build_world(seed=4, customers=150, members=40, now=NOW)
    assert sorted(first.reservations) == sorted(again.reservations)
    assert [c.name for c in first.customers.values()] == [c.name for c in again.customers.values()]
    assert sorted(first.reservations) != sorted(other.reservations)
    assert len(build_world(now=NOW).customers) >= 5000


@pytest.mark.parametrize("now", [NOW, datetime(2026, 7, 1, 12, 0, tzinfo=UTC)])
def test_flights_leave_at_local_hours_on_their_local_date(now: datetime) -> None:
    """In winter and in summer time: a departure between 06:00 and 21:55 at the origin, and the
    flight's date is the origin's date then (an evening in Los Angeles is the next day in UTC)."""
    world = build_world(seed=5, customers=10, members=1, now=now)
    utc_dates = 0
    for flight in world.flights.values():
        local = flight.scheduled_departure.astimezone(ZoneInfo(TIMEZONES[flight.origin]))
        assert 6 <= local.hour <= 21, flight
        assert local.date() == flight.date, flight
        utc_dates += flight.scheduled_departure.date() != flight.date
    assert utc_dates  # some evening departures are already the next day in UTC


def test_the_clock_can_be_pinned_by_settings(loop_thread: LoopThread) -> None:
    cluster = loop_thread.run(start_mocks(small_settings(now=NOW), ["booking"]))
    try:
        status = httpx.get(cluster.base_urls["booking"] + "/flights/UA123/status").json()
        assert status["date"] == (NOW.date() + timedelta(days=1)).isoformat()
    finally:
        loop_thread.run(cluster.stop())


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets the machine's time zone (``TZ``) for the test, and puts it back after."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("zone", "day"),
    [("UTC", date(2026, 11, 26)), ("America/Los_Angeles", date(2026, 11, 25))],
)
def test_the_worlds_days_are_the_machines_as_the_planner_counts_them(
    machine_zone: Callable[[str], None], zone: str, day: date
) -> None:
    """At 03:00 UTC it is still the evening before in Los Angeles: there, "my flight tomorrow"
    is the flight of the 26th, and the world must say so too."""
    machine_zone(zone)
    assert date.today() == datetime.now(UTC).astimezone().date()
    world = build_world(seed=9, customers=10, members=5, now=datetime(2026, 11, 26, 3, tzinfo=UTC))
    assert world.today == day
    (segment,) = world.reservations["SBX7Q2"].segments
    assert segment.date == day + timedelta(days=1)


def test_generated_records_are_coherent_across_domains() -> None:
    world = build_world(seed=9, customers=400, members=50, now=NOW)
    for reservation in world.reservations.values():
        assert reservation.customer_id in world.customers
        for segment in reservation.segments:
            assert (segment.flight_number, segment.date) in world.flights
    for method in world.payment_methods.values():
        assert method.customer_id in world.customers
    for charge in world.charges.values():
        assert world.payment_methods[charge.payment_method_id].customer_id == charge.customer_id
    for claim in world.claims.values():
        assert claim.member_id in world.members and claim.provider_id in world.providers


def test_a_delay_is_known_only_on_the_day() -> None:
    world = build_world(seed=9, customers=10, members=5, now=NOW)
    flights = list(world.flights.values())
    ahead = [f for f in flights if f.scheduled_departure - NOW > timedelta(hours=24)]
    soon = [f for f in flights if f.scheduled_departure - NOW <= timedelta(hours=24)]
    # Days ahead, a flight keeps its schedule; on the day, some are late.
    assert ahead and not [f for f in ahead if f.delay_minutes or f.status == "delayed"]
    delayed = [f for f in soon if f.delay_minutes]
    assert delayed and all(f.reason for f in delayed)
    assert any(f.status == "delayed" for f in delayed)


def _next_weekday(day: date, weekday: int) -> date:
    return day + timedelta((weekday - day.weekday()) % 7 or 7)


def test_the_c1001_scenario_can_be_acted_out_on_the_mocks(loop_thread: LoopThread) -> None:
    cluster = loop_thread.run(start_mocks(small_settings(now=NOW), ["booking", "crm"]))
    try:
        booking = httpx.Client(base_url=cluster.base_urls["booking"])
        crm = httpx.Client(base_url=cluster.base_urls["crm"])
        maya = owned("SBX7Q2")
        segment = booking.get("/reservations/SBX7Q2", params=maya).json()["segments"][0]
        rules = booking.get("/reservations/SBX7Q2/fare-rules", params=maya).json()
        assert rules["waiver"] and rules["change_fee_cents"] == 0
        flights = booking.get(
            "/flights", params={"origin": "ORD", "destination": "SFO", "date": segment["date"]}
        ).json()["flights"]
        open_flight = next(f for f in flights if f["seats_available"]["economy"] > 0)
        rebooked = booking.post(
            "/reservations/SBX7Q2/rebook",
            params=maya,
            json={
                "segment_id": "S1",
                "flight_number": open_flight["flight_number"],
                "date": open_flight["date"],
            },
        )
        assert rebooked.status_code == 200, rebooked.text
        assert rebooked.json()["change_fee_cents"] == 0

        loyalty = crm.get("/customers/C-1001/loyalty").json()
        upgrade = next(o for o in loyalty["redemption_options"] if o["kind"] == "upgrade")
        assert upgrade["miles"] == 20_000  # Gold pays 20% less
        redeemed = crm.post(
            "/customers/C-1001/loyalty/redemptions",
            json={"kind": "upgrade", "miles": upgrade["miles"], "reference": "SBX7Q2"},
        )
        assert redeemed.status_code == 201
        assert redeemed.json()["miles_balance"] == 84_000 - 20_000
        note = crm.post(
            "/customers/C-1001/notes", json={"text": "Rebooked SBX7Q2 onto a later flight."}
        )
        assert note.status_code == 201

        boarding = booking.get(
            "/reservations/SBX7Q2/boarding-pass", params={**maya, "passenger_id": "P1"}
        )
        assert boarding.status_code == 200, boarding.text
        assert boarding.json()["flight_number"] == open_flight["flight_number"]
        assert boarding.json()["image"].startswith("data:image/svg+xml;base64,")
        # The pass and the trip tell the departure in the origin's local time too.
        trip = booking.get("/reservations/SBX7Q2", params=maya).json()
        for told in (boarding.json(), trip["segments"][0]):
            assert told["scheduled_departure_local"] == open_flight["scheduled_departure_local"]
        booking.close()
        crm.close()
    finally:
        loop_thread.run(cluster.stop())


def test_a_customers_cases_list_the_newest_first(http: dict[str, httpx.Client]) -> None:
    # The mock's clock stands still, so both cases carry the same time: the one opened last
    # must still lead the list ("how is my case going?" reads the latest).
    opened = []
    for subject in ("Bag delayed on UA 123", "Seat was broken"):
        created = http["crm"].post(
            "/customers/C-1003/cases",
            json={"subject": subject, "category": "complaint", "description": subject},
        )
        assert created.status_code == 201, created.text
        opened.append(created.json())
    assert opened[0]["created_at"] == opened[1]["created_at"]
    listed = http["crm"].get("/customers/C-1003/cases").json()["cases"]
    ids = [c["case_id"] for c in listed]
    assert ids.index(opened[1]["case_id"]) < ids.index(opened[0]["case_id"]), ids
    assert ids[0] == opened[1]["case_id"]
