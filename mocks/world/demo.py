"""The fixed demo identities, placed before the generated population so nothing collides.

README.md lists them; tests and demos rely on them. Dates are relative to the world's clock:
"tomorrow" is the day after ``world.today``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from mocks.world.model import (
    Case,
    Charge,
    Claim,
    ClaimEvent,
    ClaimLine,
    Customer,
    Flight,
    Member,
    Note,
    Passenger,
    PaymentMethod,
    Provider,
    Reservation,
    Segment,
    Verification,
    Wallet,
    Withdrawal,
)

if TYPE_CHECKING:
    from mocks.world.generate import World

STORM = "weather: winter storm at Chicago O'Hare (ORD)"


def place(world: World) -> None:
    _flights(world)
    _maya_chen(world)
    _jordan_patel(world)
    _sofia_reyes(world)
    _messy_customers(world)
    _dental(world)


def place_unbooked(world: World) -> None:
    """Flights no generated customer holds a seat on: placed after the customers are drawn, so
    that the draw (and every generated trip) is the same with them as without."""
    # The day after the storm: two ORD-SFO flights with seats, for "what about the day after?".
    _flight(world, "UA459", "ORD", "SFO", 2, time(14, 15), 275, (120, 10))
    _flight(world, "UA893", "ORD", "SFO", 2, time(19, 40), 275, (140, 12))


def _flight(
    world: World,
    number: str,
    origin: str,
    destination: str,
    days: int,
    departs: time,
    minutes: int,
    sold: tuple[int, int],
    status: str = "scheduled",
    reason: str | None = None,
) -> None:
    day = world.today + timedelta(days=days)
    departure = datetime.combine(day, departs, UTC)
    if status == "scheduled" and departure - world.now <= timedelta(hours=24):
        status = "on_time"
    world.add_flight(
        Flight(
            flight_number=number,
            carrier=number[:2],
            origin=origin,
            destination=destination,
            date=day,
            scheduled_departure=departure,
            scheduled_arrival=departure + timedelta(minutes=minutes),
            status=status,
            reason=reason,
            sold={"economy": sold[0], "business": sold[1]},
        )
    )


def _flights(world: World) -> None:
    # C-1001's flight is cancelled by the storm; the next ORD-SFO departure is full, a later
    # one has seats.
    _flight(world, "UA123", "ORD", "SFO", 1, time(14, 5), 275, (150, 16), "cancelled", STORM)
    _flight(world, "UA457", "ORD", "SFO", 1, time(17, 30), 275, (150, 16))
    _flight(world, "UA891", "ORD", "SFO", 1, time(21, 10), 275, (96, 9))
    # A cancellation with no same-day alternative: the next BOS-DEN flight is the day after.
    _flight(
        world,
        "DL2207",
        "BOS",
        "DEN",
        1,
        time(12, 40),
        290,
        (140, 14),
        "cancelled",
        "mechanical: aircraft out of service",
    )
    _flight(world, "DL2209", "BOS", "DEN", 2, time(12, 40), 290, (88, 6))


def _customer(
    world: World,
    number: int,
    first: str,
    last: str,
    tier: str,
    miles: int,
    verification: Verification,
) -> Customer:
    customer = Customer(
        customer_id=f"C-{number}",
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}@example.com",
        phone=f"+1312555{number:04d}",
        date_of_birth=world.today.replace(year=1988, month=3, day=14),
        member_since=world.today.replace(year=world.today.year - 9, month=6, day=1),
        tier=tier,
        miles=miles,
        lifetime_miles=miles * 6,
        verification=verification,
        preferences={
            "contact_channel": "sms",
            "language": "en",
            "seat": "aisle",
            "marketing_opt_in": "false",
        },
    )
    world.customers[customer.customer_id] = customer
    return customer


def _card(
    world: World, customer: Customer, index: int, brand: str, last4: str, expired: bool
) -> PaymentMethod:
    year = world.today.year + (-1 if expired else 3)
    card = PaymentMethod(
        payment_method_id=f"pm_{customer.customer_id[2:]}_{index}",
        customer_id=customer.customer_id,
        brand=brand,
        last4=last4,
        exp_month=11,
        exp_year=year,
        holder_name=customer.name,
    )
    world.add_payment_method(card)
    return card


def _reservation(
    world: World,
    pnr: str,
    customer: Customer,
    passenger: tuple[str, str],
    flight_number: str,
    days: int,
    card: PaymentMethod,
    total_cents: int,
) -> None:
    booked = world.now - timedelta(days=21)
    world.add_reservation(
        Reservation(
            pnr=pnr,
            customer_id=customer.customer_id,
            status="confirmed",
            fare_family="main",
            total_cents=total_cents,
            currency="USD",
            created_at=booked,
            passengers=[
                Passenger(passenger_id="P1", first_name=passenger[0], last_name=passenger[1])
            ],
            segments=[
                Segment(
                    segment_id="S1",
                    flight_number=flight_number,
                    date=world.today + timedelta(days=days),
                    cabin="economy",
                    fare_class="V",
                )
            ],
        )
    )
    charge_id = f"ch_{world.next_id('ch', 10_000)}"
    world.charges[charge_id] = Charge(
        charge_id=charge_id,
        customer_id=customer.customer_id,
        payment_method_id=card.payment_method_id,
        amount_cents=total_cents,
        currency="USD",
        description=f"Airfare, reservation {pnr}",
        status="succeeded",
        created_at=booked,
        reference=pnr,
    )


def _maya_chen(world: World) -> None:
    verified = Verification(
        status="verified", method="document", verified_at=world.now - timedelta(days=400)
    )
    maya = _customer(world, 1001, "Maya", "Chen", "gold", 84_000, verified)
    card = _card(world, maya, 1, "visa", "4242", expired=False)
    _card(world, maya, 2, "mastercard", "5454", expired=True)
    _reservation(world, "SBX7Q2", maya, ("Maya", "Chen"), "UA123", 1, card, 38_900)
    opened = world.now - timedelta(days=60)
    world.cases["CS-1001"] = Case(
        case_id="CS-1001",
        customer_id=maya.customer_id,
        subject="Bag delayed on arrival at SFO",
        category="baggage",
        priority="normal",
        status="closed",
        created_at=opened,
        notes=[
            Note(
                note_id="N-1001",
                channel="phone",
                text="Bag delivered to home address.",
                created_at=opened + timedelta(days=1),
            )
        ],
    )


def _jordan_patel(world: World) -> None:
    pending = Verification(status="pending_documents", method=None, verified_at=None)
    jordan = _customer(world, 1002, "Jordan", "Patel", "member", 1_200, pending)
    card = _card(world, jordan, 1, "visa", "1881", expired=False)
    wallet = Wallet(
        customer_id=jordan.customer_id,
        currency="USD",
        balance_cents=124_050,
        deposit_limits={"daily": None, "weekly": 100_000, "monthly": None},
    )
    withdrawal = Withdrawal(
        withdrawal_id="W-5001",
        customer_id=jordan.customer_id,
        amount_cents=50_000,
        currency="USD",
        payment_method_id=card.payment_method_id,
        status="pending",
        requested_at=world.now - timedelta(days=5),
        status_reason="on hold: source-of-funds documents requested, not yet received",
    )
    wallet.withdrawals.append(withdrawal)
    world.wallets[jordan.customer_id] = wallet
    world.withdrawals[withdrawal.withdrawal_id] = withdrawal


def _sofia_reyes(world: World) -> None:
    # The verified sportsbook customer: a withdrawal request runs to the end (confirmation, then
    # one withdrawal), where C-1002's is refused until their documents arrive.
    verified = Verification(
        status="verified", method="document", verified_at=world.now - timedelta(days=200)
    )
    sofia = _customer(world, 1006, "Sofia", "Reyes", "member", 2_400, verified)
    card = _card(world, sofia, 1, "mastercard", "5100", expired=False)
    wallet = Wallet(
        customer_id=sofia.customer_id,
        currency="USD",
        balance_cents=187_540,
        deposit_limits={"daily": None, "weekly": 50_000, "monthly": None},
    )
    requested = world.now - timedelta(days=30)
    paid = Withdrawal(
        withdrawal_id="W-5002",
        customer_id=sofia.customer_id,
        amount_cents=30_000,
        currency="USD",
        payment_method_id=card.payment_method_id,
        status="completed",
        requested_at=requested,
        completed_at=requested + timedelta(days=2),
    )
    wallet.withdrawals.append(paid)
    world.wallets[sofia.customer_id] = wallet
    world.withdrawals[paid.withdrawal_id] = paid


def _messy_customers(world: World) -> None:
    verified = Verification(
        status="verified", method="document", verified_at=world.now - timedelta(days=90)
    )
    # The reservation's passenger name differs from the CRM profile.
    jonathan = _customer(world, 1003, "Jonathan", "Smith", "silver", 23_500, verified)
    card = _card(world, jonathan, 1, "amex", "0005", expired=False)
    _reservation(world, "LQ3X8N", jonathan, ("Jon", "Smith"), "DL2209", 2, card, 27_400)
    # ... and its fare was charged twice: the same amount to the same card, minutes apart.
    fare = next(c for c in world.charges.values() if c.reference == "LQ3X8N")
    duplicate = f"ch_{world.next_id('ch', 10_000)}"
    world.charges[duplicate] = Charge(
        charge_id=duplicate,
        customer_id=fare.customer_id,
        payment_method_id=fare.payment_method_id,
        amount_cents=fare.amount_cents,
        currency=fare.currency,
        description=fare.description,
        status="succeeded",
        created_at=fare.created_at + timedelta(minutes=3),
        reference=fare.reference,
    )
    # Every card on file has expired.
    grace = _customer(world, 1004, "Grace", "Kim", "member", 3_100, verified)
    _card(world, grace, 1, "visa", "0341", expired=True)
    # Booked on a cancelled flight with no same-day alternative.
    elena = _customer(world, 1005, "Elena", "Rossi", "platinum", 412_000, verified)
    card = _card(world, elena, 1, "visa", "7719", expired=False)
    _reservation(world, "K4M9TZ", elena, ("Elena", "Rossi"), "DL2207", 1, card, 45_600)


def _dental(world: World) -> None:
    world.providers["P-7001"] = Provider(
        provider_id="P-7001",
        name="Bright Smile Dental",
        specialty="general_dentistry",
        city="Springfield",
        state="IL",
        zip="62701",
        phone="+12175550101",
        networks=["PLAN-DHMO", "PLAN-PPO-PLUS"],
        accepting_new_patients=True,
    )
    world.members["M-3001"] = Member(
        member_id="M-3001",
        first_name="Sam",
        last_name="Okafor",
        date_of_birth=world.today.replace(year=1986, month=4, day=12),
        plan_id="PLAN-PPO-PLUS",
        group_number="G20410",
        coverage_start=world.today.replace(year=world.today.year - 3, month=1, day=1),
        coverage_end=None,
        deductible_met_cents=5_000,
        maximum_used_cents=45_000,
    )
    submitted = world.now - timedelta(days=18)
    world.add_claim(
        Claim(
            claim_id="CL-9001",
            member_id="M-3001",
            provider_id="P-7001",
            status="under_review",
            date_of_service=world.today - timedelta(days=20),
            submitted_at=submitted,
            lines=[ClaimLine(procedure_code="D2740", tooth="30", charged_cents=145_000)],
            history=[
                ClaimEvent(status="received", at=submitted, note="claim received electronically"),
                ClaimEvent(
                    status="under_review",
                    at=submitted + timedelta(days=3),
                    note="sent to the dental consultant to review the pre-operative radiograph",
                ),
            ],
            expected_decision_by=world.today + timedelta(days=5),
        )
    )
    paid = world.now - timedelta(days=170)
    world.add_claim(
        Claim(
            claim_id="CL-9002",
            member_id="M-3001",
            provider_id="P-7001",
            status="paid",
            date_of_service=(paid - timedelta(days=4)).date(),
            submitted_at=paid,
            lines=[
                ClaimLine(
                    procedure_code="D1110",
                    tooth=None,
                    charged_cents=11_000,
                    allowed_cents=9_500,
                    paid_cents=9_500,
                )
            ],
            history=[
                ClaimEvent(status="received", at=paid, note="claim received electronically"),
                ClaimEvent(status="paid", at=paid + timedelta(days=6), note="paid to provider"),
            ],
        )
    )
