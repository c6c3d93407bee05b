"""The booking backend: flights, status, reservations, fare rules, seats, boarding passes."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from starlette.applications import Starlette

from mocks.booking.seats import LAYOUT, cabin_of_seat, seats_of, taken_seats
from mocks.common.app import Call, Handler, Reply, build_app
from mocks.common.contract import Contract
from mocks.common.faults import FaultConfig
from mocks.common.jsonish import iso_date, iso_datetime, local_datetime, parse_date
from mocks.common.lockout import Lockout
from mocks.common.problems import Problem, conflict, not_found
from mocks.world import World, build_world
from mocks.world.model import Flight, Reservation, Segment
from mocks.world.reference import TIMEZONES

CONTRACT = Path(__file__).with_name("openapi.yaml")
CHANGE_FEE_CENTS = {"basic": 0, "main": 7_500, "flex": 0}
INVOLUNTARY_DELAY_MINUTES = 180
CHECK_IN_HOURS = 48
#: Surnames in a row that name no passenger of a reservation code before the code's surname
#: checks lock (counted for any code, so a lock tells nothing of whether the code exists)
SURNAME_TRIES = 5
#: How long they stay locked, in seconds
SURNAME_LOCK_SECONDS = 15 * 60
# Upgrades close an hour before departure (the knowledge base's "Upgrading with miles").
UPGRADE_CLOSES = timedelta(hours=1)


class Booking:
    """The operations of the booking contract over a world."""

    def __init__(self, world: World) -> None:
        self.world = world
        #: the miles redemptions that have paid for an upgrade: each pays for one
        self.spent_redemptions: set[str] = set()
        #: surnames in a row that named no passenger, and the locks they set, by reservation code
        self.surname_checks = Lockout(SURNAME_TRIES, SURNAME_LOCK_SECONDS)

    def handlers(self) -> dict[str, Handler]:
        return {
            "getFlightStatus": self.get_flight_status,
            "searchFlights": self.search_flights,
            "getSeatMap": self.get_seat_map,
            "getReservation": self.get_reservation,
            "listCustomerReservations": self.list_customer_reservations,
            "getFareRules": self.get_fare_rules,
            "rebookReservation": self.rebook_reservation,
            "cancelReservation": self.cancel_reservation,
            "getUpgradeOffer": self.get_upgrade_offer,
            "upgradeReservation": self.upgrade_reservation,
            "assignSeat": self.assign_seat,
            "getBoardingPass": self.get_boarding_pass,
        }

    async def get_flight_status(self, call: Call) -> Reply:
        flight = self._flight(call.arg("flight_number"), call.arg("date"))
        return Reply(flight_status(flight))

    async def search_flights(self, call: Call) -> Reply:
        day = parse_date(call.arg("date"))
        assert day is not None
        route, cabin = (call.arg("origin"), call.arg("destination")), call.arg("cabin")
        listed = self._departures(*route, day, cabin)
        # A stranded traveller is offered the first later day with a seat, never an empty list
        # they cannot act on; with none on any day tried, the day asked for is what is shown.
        for ahead in range(1, call.arg("fallback_days", 0) + 1):
            if any(self._bookable(f, cabin) for f in listed):
                break
            later = self._departures(*route, day + timedelta(days=ahead), cabin)
            if any(self._bookable(f, cabin) for f in later):
                listed = later
        return Reply({"flights": [flight_offer(f) for f in listed]})

    def _departures(
        self, origin: str, destination: str, day: date, cabin: str | None
    ) -> list[Flight]:
        """The route's flights that day; with a ``cabin``, only those a traveller could still be
        moved onto in it (a flight that has left has no seats to sell)."""
        flights = self.world.flights_on(origin, destination, day)
        return [f for f in flights if self._bookable(f, cabin)] if cabin else flights

    def _bookable(self, flight: Flight, cabin: str | None) -> bool:
        """Whether rebookReservation could move a traveller onto the flight."""
        if flight.status in ("cancelled", "departed", "landed") or flight.date < self.world.today:
            return False
        return any(flight.seats_available(c) > 0 for c in ([cabin] if cabin else LAYOUT))

    async def get_seat_map(self, call: Call) -> Reply:
        flight = self._flight(call.arg("flight_number"), call.arg("date"))
        taken = taken_seats(flight)
        cabins = []
        for cabin in LAYOUT:
            rows: dict[int, list[dict[str, Any]]] = {}
            for info in seats_of(cabin):
                rows.setdefault(info.row, []).append(
                    {
                        "seat": info.seat,
                        "available": flight.status != "cancelled" and info.seat not in taken,
                        "features": list(info.features),
                    }
                )
            cabins.append(
                {"cabin": cabin, "rows": [{"row": r, "seats": s} for r, s in rows.items()]}
            )
        return Reply(
            {"flight_number": flight.flight_number, "date": iso_date(flight.date), "cabins": cabins}
        )

    async def get_reservation(self, call: Call) -> Reply:
        return Reply(self._render(self._reservation(call)))

    async def list_customer_reservations(self, call: Call) -> Reply:
        customer_id = call.arg("customer_id")
        found = self.world.reservations_of(customer_id)
        status = call.arg("status")
        if status:
            found = [r for r in found if r.status == status]
        flight_number = call.arg("flight_number")
        if flight_number:
            found = [r for r in found if any(s.flight_number == flight_number for s in r.segments)]
        found.sort(key=lambda r: min(s.date for s in r.segments), reverse=True)
        return Reply({"customer_id": customer_id, "reservations": [self._render(r) for r in found]})

    async def get_fare_rules(self, call: Call) -> Reply:
        reservation = self._reservation(call)
        waiver = self._waiver(reservation)
        family = reservation.fare_family
        changeable = family != "basic" or waiver is not None
        refundable = family == "flex" or waiver is not None
        rules = {
            "basic": [
                "No changes after booking.",
                "Not refundable; cancelling forfeits the fare.",
                "Seat selection is charged.",
            ],
            "main": [
                "Changes allowed for a fee of 75.00 USD plus any fare difference.",
                "Not refundable; cancelling leaves the fare as a travel credit.",
            ],
            "flex": [
                "Free changes; pay only any fare difference.",
                "Fully refundable to the original payment.",
            ],
        }[family]
        return Reply(
            {
                "pnr": reservation.pnr,
                "fare_family": family,
                "changeable": changeable,
                "change_fee_cents": 0 if waiver else CHANGE_FEE_CENTS[family],
                "refundable": refundable,
                "currency": reservation.currency,
                "waiver": waiver,
                "rules": rules,
            }
        )

    async def rebook_reservation(self, call: Call) -> Reply:
        reservation = self._confirmed(call)
        segment = self._segment(reservation, call.arg("segment_id"))
        old = self._segment_flight(segment)
        new = self._flight(call.arg("flight_number"), call.arg("date"))
        waiver = self._waiver(reservation)
        if reservation.fare_family == "basic" and waiver is None:
            raise conflict("a basic fare cannot be changed unless the airline disrupted the flight")
        if (new.origin, new.destination) != (old.origin, old.destination):
            raise conflict(
                f"{new.flight_number} flies {new.origin}-{new.destination}, not the segment's "
                f"route {old.origin}-{old.destination}"
            )
        if new.key == old.key:
            raise conflict(f"segment {segment.segment_id} is already on {new.flight_number}")
        if new.status in ("cancelled", "departed", "landed") or new.date < self.world.today:
            raise conflict(f"{new.flight_number} on {new.date} cannot be booked ({new.status})")
        travellers = len(reservation.passengers)
        if new.seats_available(segment.cabin) < travellers:
            raise conflict(
                f"{new.flight_number} on {new.date} has {new.seats_available(segment.cabin)} "
                f"{segment.cabin} seats left; {travellers} needed"
            )
        self._release(segment, old, travellers)
        new.sold[segment.cabin] += travellers
        segment.flight_number, segment.date, segment.status = (
            new.flight_number,
            new.date,
            "confirmed",
        )
        return Reply(
            {
                "reservation": self._render(reservation),
                "change_fee_cents": 0 if waiver else CHANGE_FEE_CENTS[reservation.fare_family],
                "currency": reservation.currency,
                "waiver": waiver,
            }
        )

    async def cancel_reservation(self, call: Call) -> Reply:
        reservation = self._confirmed(call)
        refundable = reservation.fare_family == "flex" or self._waiver(reservation) is not None
        travellers = len(reservation.passengers)
        for segment in reservation.segments:
            if segment.status == "confirmed":
                self._release(segment, self._segment_flight(segment), travellers)
            segment.status = "cancelled"
        reservation.status = "cancelled"
        credit = 0 if refundable or reservation.fare_family == "basic" else reservation.total_cents
        return Reply(
            {
                "reservation": self._render(reservation),
                "refund_cents": reservation.total_cents if refundable else 0,
                "travel_credit_cents": credit,
                "currency": reservation.currency,
            }
        )

    async def get_upgrade_offer(self, call: Call) -> Reply:
        reservation = self._confirmed(call)
        segment = self._segment(
            reservation, call.arg("segment_id") or reservation.segments[0].segment_id
        )
        flight = self._upgradable(reservation, segment)
        return Reply(
            {
                "pnr": reservation.pnr,
                "segment_id": segment.segment_id,
                "flight_number": flight.flight_number,
                "date": iso_date(flight.date),
                "cabin": "business",
                "seats_available": flight.seats_available("business"),
            }
        )

    async def upgrade_reservation(self, call: Call) -> Reply:
        reservation = self._confirmed(call)
        segment = self._segment(reservation, call.arg("segment_id"))
        flight = self._upgradable(reservation, segment)
        redemption_id = call.arg("redemption_id")
        customer = self.world.customers.get(reservation.customer_id)
        redemptions = customer.redemptions if customer else []
        paid = next((r for r in redemptions if r.redemption_id == redemption_id), None)
        if paid is None or paid.kind != "upgrade" or paid.reference != reservation.pnr:
            raise conflict(
                f"redemption {redemption_id} does not pay for an upgrade of {reservation.pnr}"
            )
        if redemption_id in self.spent_redemptions:
            raise conflict(f"redemption {redemption_id} has already paid for an upgrade")
        self.spent_redemptions.add(redemption_id)
        self._release(segment, flight, len(reservation.passengers))
        flight.sold["business"] += len(reservation.passengers)
        segment.cabin, segment.fare_class = "business", "J"
        return Reply(self._render(reservation))

    async def assign_seat(self, call: Call) -> Reply:
        reservation = self._confirmed(call)
        segment = self._segment(reservation, call.arg("segment_id"))
        passenger_id = call.arg("passenger_id")
        self._passenger(reservation, passenger_id)
        flight = self._segment_flight(segment)
        seat = call.arg("seat")
        if flight.status == "cancelled":
            raise conflict(f"{flight.flight_number} on {flight.date} is cancelled")
        cabin = cabin_of_seat(seat)
        if cabin is None:
            raise not_found("seat", seat)
        if cabin != segment.cabin:
            raise conflict(f"seat {seat} is in {cabin}; the passenger is booked in {segment.cabin}")
        if seat != segment.seats.get(passenger_id) and seat in taken_seats(flight):
            raise conflict(f"seat {seat} on {flight.flight_number} is taken")
        previous = segment.seats.get(passenger_id)
        if previous:
            flight.assigned.pop(previous, None)
        flight.assigned[seat] = f"{reservation.pnr}/{passenger_id}"
        segment.seats[passenger_id] = seat
        return Reply(self._render(reservation))

    async def get_boarding_pass(self, call: Call) -> Reply:
        reservation = self._confirmed(call)
        passenger = self._passenger(reservation, call.arg("passenger_id"))
        segment = self._segment(
            reservation, call.arg("segment_id") or reservation.segments[0].segment_id
        )
        flight = self._segment_flight(segment)
        if segment.status != "confirmed" or flight.status == "cancelled":
            raise conflict(
                f"{flight.flight_number} on {flight.date} is cancelled; no boarding pass"
            )
        opens = flight.scheduled_departure - timedelta(hours=CHECK_IN_HOURS)
        if self.world.now < opens:
            raise conflict(
                f"check-in opens at {iso_datetime(opens)}, {CHECK_IN_HOURS} hours before departure"
            )
        if flight.status in ("departed", "landed"):
            raise conflict(f"{flight.flight_number} has already {flight.status}")
        seat = segment.seats.get(passenger.passenger_id)
        group = 1 if segment.cabin == "business" else 3 + (sum(map(ord, reservation.pnr)) % 5)
        name = f"{passenger.last_name.upper()}/{passenger.first_name.upper()}"
        barcode = (
            f"M1{name:<20.20}E{reservation.pnr:<7}{flight.origin}{flight.destination}"
            f"{flight.carrier} {flight.flight_number[2:]:0>4} {flight.date.timetuple().tm_yday:03d}"
            f"{segment.fare_class}{(seat or 'GATE'):0>4}"
        )
        return Reply(
            {
                "pnr": reservation.pnr,
                "passenger_id": passenger.passenger_id,
                "passenger_name": f"{passenger.first_name} {passenger.last_name}",
                "segment_id": segment.segment_id,
                "flight_number": flight.flight_number,
                "origin": flight.origin,
                "destination": flight.destination,
                "scheduled_departure": iso_datetime(flight.scheduled_departure),
                **_departs_local(flight),
                "seat": seat,
                "boarding_group": group,
                "barcode": barcode,
                "image": _pass_image(name, flight, seat, group),
            }
        )

    def _flight(self, flight_number: str, day: str | None) -> Flight:
        flight = self.world.flight(flight_number, parse_date(day))
        if flight is None:
            raise not_found("flight", f"{flight_number} on {day}" if day else flight_number)
        return flight

    def _segment_flight(self, segment: Segment) -> Flight:
        flight = self.world.flight(segment.flight_number, segment.date)
        if flight is None:
            raise Problem(500, "internal", f"segment {segment.segment_id} has no flight")
        return flight

    def _reservation(self, call: Call) -> Reservation:
        """The reservation the call names, when it is the customer's the call names, or (no
        customer named) a passenger on it has the surname the call gives: any other answers as
        one that does not exist, so a record locator tells nothing of it."""
        pnr = call.arg("pnr")
        customer, surname = call.arg("customer_id"), call.arg("last_name")
        if customer is None and surname is None:
            raise Problem(
                403,
                "names-no-one",
                f"{call.operation.operation_id} needs customer_id or last_name with the record "
                "locator: a record locator alone opens no reservation",
            )
        reservation = self.world.reservations.get(pnr)
        if customer is None:
            return self._by_surname(pnr, reservation, surname)
        if reservation is None or reservation.customer_id != customer:
            raise not_found("reservation", pnr)
        return reservation

    def _by_surname(self, pnr: str, reservation: Reservation | None, surname: str) -> Reservation:
        """The reservation a passenger's surname opens; after SURNAME_TRIES that named no one in
        a row, the code's surname checks are locked (403, problem type ``locked``) for a while,
        so a code found on a luggage tag cannot be tried against a list of names."""
        if self.surname_checks.locked(pnr):
            raise Problem(
                403,
                "locked",
                f"too many surnames did not match reservation {pnr!r}: its surname checks are "
                f"locked for {SURNAME_LOCK_SECONDS // 60} minutes",
            )
        opened = reservation is not None and _names_a_passenger(reservation, surname)
        self.surname_checks.record(pnr, opened)
        if reservation is None or not opened:
            raise not_found("reservation", pnr)
        return reservation

    def _confirmed(self, call: Call) -> Reservation:
        reservation = self._reservation(call)
        if reservation.status != "confirmed":
            raise conflict(f"reservation {reservation.pnr} is {reservation.status}")
        return reservation

    @staticmethod
    def _segment(reservation: Reservation, segment_id: str) -> Segment:
        for segment in reservation.segments:
            if segment.segment_id == segment_id:
                return segment
        raise not_found("segment", f"{reservation.pnr}/{segment_id}")

    @staticmethod
    def _passenger(reservation: Reservation, passenger_id: str) -> Any:
        for passenger in reservation.passengers:
            if passenger.passenger_id == passenger_id:
                return passenger
        raise not_found("passenger", f"{reservation.pnr}/{passenger_id}")

    def _upgradable(self, reservation: Reservation, segment: Segment) -> Flight:
        """The segment's flight, when the segment can move up to business; else a 409."""
        flight = self._segment_flight(segment)
        which = f"{flight.flight_number} on {flight.date}"
        if segment.status != "confirmed" or flight.status == "cancelled":
            raise conflict(f"{which} is cancelled")
        closes = flight.scheduled_departure - UPGRADE_CLOSES
        if flight.status in ("departed", "landed") or self.world.now >= closes:
            raise conflict(f"upgrades on {which} have closed: they close an hour before departure")
        if reservation.fare_family == "basic":
            raise conflict(f"a basic fare cannot be upgraded ({reservation.pnr})")
        if segment.cabin == "business":
            raise conflict(f"segment {segment.segment_id} is already in business")
        travellers = len(reservation.passengers)
        if travellers != 1:
            raise conflict(f"an upgrade is for one passenger; {reservation.pnr} has {travellers}")
        if flight.seats_available("business") < 1:
            raise conflict(f"{which} has no business seats left")
        return flight

    def _waiver(self, reservation: Reservation) -> str | None:
        for segment in reservation.segments:
            flight = self.world.flight(segment.flight_number, segment.date)
            if flight is None or segment.status != "confirmed":
                continue
            which = f"{flight.flight_number} on {flight.date}"
            if flight.status == "cancelled":
                return f"{which} was cancelled by the airline ({flight.reason})"
            if flight.delay_minutes >= INVOLUNTARY_DELAY_MINUTES:
                return f"{which} is delayed {flight.delay_minutes} minutes"
        return None

    @staticmethod
    def _release(segment: Segment, flight: Flight, travellers: int) -> None:
        flight.sold[segment.cabin] = max(flight.sold[segment.cabin] - travellers, 0)
        for seat in segment.seats.values():
            flight.assigned.pop(seat, None)
        segment.seats.clear()

    def _render(self, reservation: Reservation) -> dict[str, Any]:
        segments = []
        for segment in reservation.segments:
            flight = self._segment_flight(segment)
            segments.append(
                {
                    "segment_id": segment.segment_id,
                    "flight_number": segment.flight_number,
                    "date": iso_date(segment.date),
                    "origin": flight.origin,
                    "destination": flight.destination,
                    "scheduled_departure": iso_datetime(flight.scheduled_departure),
                    **_departs_local(flight),
                    "cabin": segment.cabin,
                    "fare_class": segment.fare_class,
                    "status": segment.status,
                    "flight_status": flight.status,
                    "seats": dict(segment.seats),
                }
            )
        return {
            "pnr": reservation.pnr,
            "customer_id": reservation.customer_id,
            "status": reservation.status,
            "fare_family": reservation.fare_family,
            "total_cents": reservation.total_cents,
            "currency": reservation.currency,
            "created_at": iso_datetime(reservation.created_at),
            "passengers": [
                {
                    "passenger_id": p.passenger_id,
                    "first_name": p.first_name,
                    "last_name": p.last_name,
                }
                for p in reservation.passengers
            ],
            "segments": segments,
        }


def flight_status(flight: Flight) -> dict[str, Any]:
    """The getFlightStatus body of a flight."""
    estimated = (
        None
        if flight.status == "cancelled"
        else flight.scheduled_departure + timedelta(minutes=flight.delay_minutes)
    )
    return {
        "flight_number": flight.flight_number,
        "carrier": flight.carrier,
        "origin": flight.origin,
        "destination": flight.destination,
        "date": iso_date(flight.date),
        "scheduled_departure": iso_datetime(flight.scheduled_departure),
        "scheduled_arrival": iso_datetime(flight.scheduled_arrival),
        **_local_times(flight),
        "estimated_departure": iso_datetime(estimated) if estimated else None,
        **_local(
            "estimated_departure_local",
            local_datetime(estimated, _zone(flight)) if estimated else None,
        ),
        "status": flight.status,
        "delay_minutes": flight.delay_minutes,
        "reason": flight.reason,
    }


def _local_times(flight: Flight) -> dict[str, str]:
    """The schedule in each airport's local time (the departure's at the origin, the arrival's at
    the destination), for an airport whose time zone is known."""
    return {
        **_departs_local(flight),
        **_local(
            "scheduled_arrival_local",
            local_datetime(flight.scheduled_arrival, TIMEZONES.get(flight.destination)),
        ),
    }


def _departs_local(flight: Flight) -> dict[str, str]:
    """The scheduled departure in the origin's local time, where its time zone is known."""
    return _local(
        "scheduled_departure_local", local_datetime(flight.scheduled_departure, _zone(flight))
    )


def _zone(flight: Flight) -> str | None:
    return TIMEZONES.get(flight.origin)


def _local(key: str, value: str | None) -> dict[str, str]:
    """The field, or nothing: a local time is left out where the zone is unknown."""
    return {key: value} if value else {}


def flight_offer(flight: Flight) -> dict[str, Any]:
    return {
        "flight_number": flight.flight_number,
        "carrier": flight.carrier,
        "origin": flight.origin,
        "destination": flight.destination,
        "date": iso_date(flight.date),
        "scheduled_departure": iso_datetime(flight.scheduled_departure),
        "scheduled_arrival": iso_datetime(flight.scheduled_arrival),
        **_local_times(flight),
        "status": flight.status,
        "seats_available": {cabin: flight.seats_available(cabin) for cabin in LAYOUT},
    }


def _pass_image(name: str, flight: Flight, seat: str | None, group: int) -> str:
    lines = [
        f"{flight.carrier} {flight.flight_number[2:]}  {flight.origin} → {flight.destination}",
        name,
        f"{iso_datetime(flight.scheduled_departure)}",
        f"Seat {seat or 'at gate'}   Group {group}",
    ]
    text = "".join(
        f'<text x="16" y="{32 + 28 * i}" font-family="monospace" '
        f'font-size="18">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="480" height="150">'
        f'<rect width="480" height="150" rx="12" fill="#f4f6fb" stroke="#1f3a93"/>{text}</svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def create_app(
    world: World | None = None,
    faults: FaultConfig | None = None,
    validate_responses: bool = True,
) -> Starlette:
    """The booking backend over ``world`` (a fresh default world when omitted)."""
    booking = Booking(world or build_world())
    return build_app(
        "booking", Contract.load(CONTRACT), booking.handlers(), faults, validate_responses
    )


def _names_a_passenger(reservation: Reservation, name: str) -> bool:
    """Whether ``name`` is a passenger's surname, or their full name, as ticketed: case and
    spacing aside (a check-in desk's reading of "rossi" or "Elena  Rossi")."""
    given = " ".join(name.split()).casefold()
    return any(
        given in (p.last_name.casefold(), f"{p.first_name} {p.last_name}".casefold())
        for p in reservation.passengers
    )
