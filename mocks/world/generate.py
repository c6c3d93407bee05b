"""Generate the world: flights, customers, reservations, cards, wallets, dental members, claims.

The same seed and clock give the same world. The demo identities (README) are placed first and
never collide with generated records; the generated population fills in around them.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from mocks.world import demo
from mocks.world.model import (
    Airport,
    Case,
    Charge,
    Claim,
    ClaimEvent,
    ClaimLine,
    Customer,
    Flight,
    Member,
    Passenger,
    PaymentMethod,
    Plan,
    Provider,
    Reservation,
    Segment,
    Verification,
    Wallet,
    Withdrawal,
)
from mocks.world.reference import (
    AIRPORTS,
    CANCELLATION_REASONS,
    CARRIERS,
    CITIES,
    DELAY_REASONS,
    FIRST_NAMES,
    LAST_NAMES,
    PLANS,
    PROCEDURES,
    SPECIALTIES,
    local_zone,
)

PNR_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
AREA_CODES = ("312", "415", "617", "212", "303", "206")
PRACTICE_SUFFIXES = (
    ("Family Dental", "Dental Care", "Smiles", "Dental Group", "Dentistry"),
    ("Orthodontics", "Braces & Aligners"),
)
DAYS_BEFORE = 3
DAYS_AFTER = 14


@dataclass
class World:
    """Every record of the mock enterprise, with the indexes the backends look things up by."""

    seed: int
    now: datetime
    airports: dict[str, Airport] = field(default_factory=dict)
    flights: dict[tuple[str, date], Flight] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    payment_methods: dict[str, PaymentMethod] = field(default_factory=dict)
    charges: dict[str, Charge] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    withdrawals: dict[str, Withdrawal] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    providers: dict[str, Provider] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    _counters: dict[str, itertools.count[int]] = field(default_factory=dict, repr=False)
    # Indexes, kept by the add_* methods.
    _dates_by_number: defaultdict[str, list[date]] = field(
        default_factory=lambda: defaultdict(list), repr=False
    )
    _by_route: defaultdict[tuple[str, str, date], list[Flight]] = field(
        default_factory=lambda: defaultdict(list), repr=False
    )
    _reservations_by_customer: defaultdict[str, list[str]] = field(
        default_factory=lambda: defaultdict(list), repr=False
    )
    _methods_by_customer: defaultdict[str, list[PaymentMethod]] = field(
        default_factory=lambda: defaultdict(list), repr=False
    )
    _claims_by_member: defaultdict[str, list[str]] = field(
        default_factory=lambda: defaultdict(list), repr=False
    )

    @property
    def today(self) -> date:
        """The day on the machine's calendar (its time zone), as the planner counts "today" and
        "tomorrow": the customer's "my flight tomorrow" is the world's."""
        return self.now.astimezone().date()

    def next_id(self, prefix: str, start: int = 100_000) -> int:
        """The next free number for new records of one kind (charges, cases, ...)."""
        return next(self._counters.setdefault(prefix, itertools.count(start)))

    def flights_on(self, origin: str, destination: str, day: date) -> list[Flight]:
        found = self._by_route.get((origin, destination, day), [])
        return sorted(found, key=lambda f: f.scheduled_departure)

    def add_flight(self, flight: Flight) -> None:
        self.flights[flight.key] = flight
        self._dates_by_number[flight.flight_number].append(flight.date)
        self._by_route[(flight.origin, flight.destination, flight.date)].append(flight)

    def flight(self, flight_number: str, day: date | None) -> Flight | None:
        """A flight on a date; without one, its next departure not yet flown (else its last)."""
        if day is not None:
            return self.flights.get((flight_number, day))
        dates = sorted(self._dates_by_number.get(flight_number, ()))
        upcoming = [d for d in dates if d >= self.today]
        chosen = upcoming[0] if upcoming else (dates[-1] if dates else None)
        return self.flights.get((flight_number, chosen)) if chosen else None

    def reservations_of(self, customer_id: str) -> list[Reservation]:
        return [self.reservations[p] for p in self._reservations_by_customer.get(customer_id, [])]

    def add_reservation(self, reservation: Reservation) -> None:
        self.reservations[reservation.pnr] = reservation
        self._reservations_by_customer[reservation.customer_id].append(reservation.pnr)

    def payment_methods_of(self, customer_id: str) -> list[PaymentMethod]:
        return list(self._methods_by_customer.get(customer_id, []))

    def add_payment_method(self, method: PaymentMethod) -> None:
        self.payment_methods[method.payment_method_id] = method
        self._methods_by_customer[method.customer_id].append(method)

    def claims_of(self, member_id: str) -> list[Claim]:
        return [self.claims[c] for c in self._claims_by_member.get(member_id, [])]

    def add_claim(self, claim: Claim) -> None:
        self.claims[claim.claim_id] = claim
        self._claims_by_member[claim.member_id].append(claim.claim_id)


def build_world(
    seed: int = 7, customers: int = 5000, members: int = 2000, now: datetime | None = None
) -> World:
    """A world of ``customers`` airline/sportsbook customers and ``members`` dental members."""
    clock = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    world = World(seed=seed, now=clock)
    rng = random.Random(seed)
    world.airports = {code: Airport(code=code, city=city) for code, city in AIRPORTS.items()}
    for plan_id, name, maximum, deductible, coverage, waiting in PLANS:
        world.plans[plan_id] = Plan(
            plan_id=plan_id,
            name=name,
            annual_maximum_cents=maximum,
            deductible_cents=deductible,
            coverage=dict(coverage),
            waiting_months=dict(waiting),
        )
    demo.place(world)
    _flights(world, rng)
    _customers(world, rng, customers)
    demo.place_unbooked(world)
    _dental(world, rng, members)
    return world


def _flights(world: World, rng: random.Random) -> None:
    codes = sorted(AIRPORTS)
    reserved_routes = {(f.origin, f.destination) for f in world.flights.values()}
    taken_numbers = {f.flight_number for f in world.flights.values()}
    routes: list[tuple[str, str]] = []
    while len(routes) < 70:
        origin, destination = rng.sample(codes, 2)
        if (origin, destination) in reserved_routes or (origin, destination) in routes:
            continue
        routes.append((origin, destination))
    for origin, destination in routes:
        for _ in range(rng.choice((1, 2, 2, 3))):
            carrier = rng.choice(sorted(CARRIERS))
            number = f"{carrier}{rng.randint(100, 2999)}"
            while number in taken_numbers:
                number = f"{carrier}{rng.randint(100, 2999)}"
            taken_numbers.add(number)
            departs = time(rng.randint(6, 21), rng.choice((0, 10, 15, 25, 30, 40, 45, 55)))
            minutes = rng.randint(70, 330)
            for offset in range(-DAYS_BEFORE, DAYS_AFTER + 1):
                day = world.today + timedelta(days=offset)
                # A departure at a local hour (06:00 to 21:55 at the origin); its day is the
                # local day, as a flight's date is on a ticket.
                departure = datetime.combine(day, departs, local_zone(origin)).astimezone(UTC)
                flight = Flight(
                    flight_number=number,
                    carrier=carrier,
                    origin=origin,
                    destination=destination,
                    date=day,
                    scheduled_departure=departure,
                    scheduled_arrival=departure + timedelta(minutes=minutes),
                )
                for cabin, capacity in flight.capacity.items():
                    flight.sold[cabin] = int(capacity * rng.uniform(0.35, 1.0))
                _set_status(flight, world.now, rng)
                world.add_flight(flight)


#: how far ahead of its departure a flight's delay is known
_DELAY_KNOWN = timedelta(hours=24)


def _set_status(flight: Flight, now: datetime, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.02:
        flight.status, flight.reason = "cancelled", rng.choice(CANCELLATION_REASONS)
        return
    if roll < 0.14:
        minutes = rng.choice((15, 25, 40, 55, 75, 120, 180))
        reason = rng.choice(DELAY_REASONS)
        # A delay is known on the day: a flight further ahead is on its schedule for now. (The
        # draws are made either way, so every other record of the seed stays the same.)
        if flight.scheduled_departure - now <= _DELAY_KNOWN:
            flight.delay_minutes, flight.reason = minutes, reason
    departure = flight.scheduled_departure + timedelta(minutes=flight.delay_minutes)
    if departure + (flight.scheduled_arrival - flight.scheduled_departure) <= now:
        flight.status = "landed"
    elif departure <= now:
        flight.status = "departed"
    elif departure - now <= timedelta(minutes=40):
        flight.status = "boarding"
    elif flight.delay_minutes:
        flight.status = "delayed"
    elif departure - now <= timedelta(hours=24):
        flight.status = "on_time"


def _customers(world: World, rng: random.Random, count: int) -> None:
    flights = sorted(world.flights.values(), key=lambda f: (f.date, f.flight_number))
    for index in range(count):
        number = 2001 + index
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        tier = rng.choices(("member", "silver", "gold", "platinum"), (60, 20, 15, 5))[0]
        miles = rng.randint(0, 250_000)
        since = world.today - timedelta(days=rng.randint(30, 6000))
        customer = Customer(
            customer_id=f"C-{number}",
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{last.lower()}{number}@example.com",
            phone=f"+1{rng.choice(AREA_CODES)}555{number % 10_000:04d}",
            date_of_birth=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
            member_since=since,
            tier=tier,
            miles=miles,
            lifetime_miles=miles + rng.randint(0, 900_000),
            verification=rng.choices(
                (
                    Verification(status="verified", method="document", verified_at=_at(since)),
                    Verification(status="unverified"),
                    Verification(status="pending_documents"),
                ),
                (70, 25, 5),
            )[0],
            preferences={
                "contact_channel": rng.choice(("email", "sms", "phone")),
                "language": rng.choice(("en", "en", "en", "es", "fr")),
                "seat": rng.choice(("aisle", "window", "no_preference")),
                "marketing_opt_in": rng.choice(("true", "false")),
            },
        )
        world.customers[customer.customer_id] = customer
        cards = []
        for card_index in range(rng.choice((1, 1, 2))):
            expired = rng.random() < 0.05
            card = PaymentMethod(
                payment_method_id=f"pm_{number}_{card_index + 1}",
                customer_id=customer.customer_id,
                brand=rng.choice(("visa", "mastercard", "amex")),
                last4=f"{rng.randint(0, 9999):04d}",
                exp_month=rng.randint(1, 12),
                exp_year=world.today.year - 1 if expired else world.today.year + rng.randint(1, 5),
                holder_name=customer.name,
            )
            world.add_payment_method(card)
            cards.append(card)
        for _ in range(rng.choice((0, 1, 1, 2))):
            _reservation(world, rng, customer, rng.choice(flights), cards[0])
        if rng.random() < 0.15:
            _wallet(world, rng, customer, cards[0])


def _reservation(
    world: World, rng: random.Random, customer: Customer, flight: Flight, card: PaymentMethod
) -> None:
    pnr = "".join(rng.choice(PNR_ALPHABET) for _ in range(6))
    if pnr in world.reservations:
        return
    passengers = [
        Passenger(passenger_id="P1", first_name=customer.first_name, last_name=customer.last_name)
    ]
    if rng.random() < 0.3:
        passengers.append(
            Passenger(
                passenger_id="P2", first_name=rng.choice(FIRST_NAMES), last_name=customer.last_name
            )
        )
    cabin = "business" if rng.random() < 0.12 else "economy"
    family = rng.choice(("basic", "main", "main", "flex"))
    total = len(passengers) * rng.randint(9_000, 60_000) * (3 if cabin == "business" else 1)
    booked = world.now - timedelta(days=rng.randint(3, 90))
    world.add_reservation(
        Reservation(
            pnr=pnr,
            customer_id=customer.customer_id,
            status="confirmed",
            fare_family=family,
            total_cents=total,
            currency="USD",
            created_at=booked,
            passengers=passengers,
            segments=[
                Segment(
                    segment_id="S1",
                    flight_number=flight.flight_number,
                    date=flight.date,
                    cabin=cabin,
                    fare_class=(
                        "J"
                        if cabin == "business"
                        else {"basic": "N", "main": "V", "flex": "Y"}[family]
                    ),
                )
            ],
        )
    )
    charge_id = f"ch_{world.next_id('ch', 10_000)}"
    world.charges[charge_id] = Charge(
        charge_id=charge_id,
        customer_id=customer.customer_id,
        payment_method_id=card.payment_method_id,
        amount_cents=total,
        currency="USD",
        description=f"Airfare, reservation {pnr}",
        status="succeeded",
        created_at=booked,
        reference=pnr,
    )


def _wallet(world: World, rng: random.Random, customer: Customer, card: PaymentMethod) -> None:
    wallet = Wallet(
        customer_id=customer.customer_id,
        currency="USD",
        balance_cents=rng.randint(0, 500_000),
        deposit_limits={
            "daily": rng.choice((None, 10_000, 25_000)),
            "weekly": rng.choice((None, 50_000, 100_000)),
            "monthly": rng.choice((None, 200_000)),
        },
    )
    world.wallets[customer.customer_id] = wallet
    for _ in range(rng.choice((0, 1, 2, 3))):
        requested = world.now - timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23))
        status = (
            "completed"
            if requested < world.now - timedelta(days=3)
            else rng.choice(("pending", "processing"))
        )
        withdrawal = Withdrawal(
            withdrawal_id=f"W-{world.next_id('W', 6001)}",
            customer_id=customer.customer_id,
            amount_cents=rng.randint(1, 100) * 1000,
            currency="USD",
            payment_method_id=card.payment_method_id,
            status=status,
            requested_at=requested,
            completed_at=requested + timedelta(days=2) if status == "completed" else None,
        )
        wallet.withdrawals.append(withdrawal)
        world.withdrawals[withdrawal.withdrawal_id] = withdrawal


def _dental(world: World, rng: random.Random, count: int) -> None:
    provider_ids = [f"P-{7002 + i}" for i in range(150)]
    for provider_id in provider_ids:
        city, state, zip_code = rng.choice(CITIES)
        specialty = rng.choice(SPECIALTIES)
        suffixes = PRACTICE_SUFFIXES[specialty == "orthodontics"]
        world.providers[provider_id] = Provider(
            provider_id=provider_id,
            name=f"{rng.choice(LAST_NAMES)} {rng.choice(suffixes)}",
            specialty=specialty,
            city=city,
            state=state,
            zip=zip_code,
            phone=f"+1555{rng.randint(1_000_000, 9_999_999)}",
            networks=sorted(rng.sample(sorted(world.plans), rng.randint(1, 3))),
            accepting_new_patients=rng.random() < 0.8,
        )
    codes = sorted(PROCEDURES)
    for index in range(count):
        plan = world.plans[rng.choice(sorted(world.plans))]
        start = world.today - timedelta(days=rng.randint(20, 2500))
        member = Member(
            member_id=f"M-{4001 + index}",
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            date_of_birth=date(rng.randint(1945, 2020), rng.randint(1, 12), rng.randint(1, 28)),
            plan_id=plan.plan_id,
            group_number=f"G{rng.randint(10000, 99999)}",
            coverage_start=start,
            coverage_end=(world.today - timedelta(days=rng.randint(1, 200)))
            if rng.random() < 0.05
            else None,
            deductible_met_cents=rng.choice((0, plan.deductible_cents)),
            maximum_used_cents=rng.randint(0, plan.annual_maximum_cents),
        )
        world.members[member.member_id] = member
        for _ in range(rng.choice((0, 1, 1, 2))):
            procedure = PROCEDURES[rng.choice(codes)]
            service = world.today - timedelta(days=rng.randint(1, 300))
            submitted = _at(service) + timedelta(days=rng.randint(0, 5))
            status = rng.choices(
                ("received", "under_review", "pending_information", "approved", "denied", "paid"),
                (5, 10, 5, 10, 5, 65),
            )[0]
            history = [ClaimEvent(status="received", at=submitted, note="claim received")]
            if status != "received":
                history.append(
                    ClaimEvent(
                        status=status,
                        at=submitted + timedelta(days=3),
                        note=f"claim {status.replace('_', ' ')}",
                    )
                )
            world.add_claim(
                Claim(
                    claim_id=f"CL-{world.next_id('CL', 10_001)}",
                    member_id=member.member_id,
                    provider_id=rng.choice(provider_ids),
                    status=status,
                    date_of_service=service,
                    submitted_at=submitted,
                    lines=[
                        ClaimLine(
                            procedure_code=procedure.code,
                            tooth=str(rng.randint(1, 32))
                            if procedure.procedure_class in ("basic", "major")
                            else None,
                            charged_cents=procedure.typical_fee_cents,
                        )
                    ],
                    history=history,
                )
            )


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), UTC)
