"""The records of the mock enterprise: one world shared by every backend.

Money is in integer cents with an ISO 4217 currency; times are UTC.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from datetime import date, datetime

CABINS = ("economy", "business")


@dataclass(kw_only=True)
class Airport:
    code: str
    city: str


@dataclass(kw_only=True)
class Flight:
    """One departure of a flight number on one date."""

    flight_number: str
    carrier: str
    origin: str
    destination: str
    date: date
    scheduled_departure: datetime
    scheduled_arrival: datetime
    status: str = "scheduled"
    delay_minutes: int = 0
    reason: str | None = None
    capacity: dict[str, int] = field(default_factory=lambda: {"economy": 150, "business": 16})
    sold: dict[str, int] = field(default_factory=lambda: {"economy": 0, "business": 0})
    assigned: dict[str, str] = field(default_factory=dict)  # seat -> "PNR/passenger_id"

    @property
    def key(self) -> tuple[str, _dt.date]:
        return (self.flight_number, self.date)

    def seats_available(self, cabin: str) -> int:
        if self.status == "cancelled":
            return 0
        return max(self.capacity[cabin] - self.sold[cabin], 0)


@dataclass(kw_only=True)
class Passenger:
    passenger_id: str
    first_name: str
    last_name: str


@dataclass(kw_only=True)
class Segment:
    segment_id: str
    flight_number: str
    date: date
    cabin: str
    fare_class: str
    status: str = "confirmed"
    seats: dict[str, str] = field(default_factory=dict)  # passenger_id -> seat


@dataclass(kw_only=True)
class Reservation:
    pnr: str
    customer_id: str
    status: str
    fare_family: str  # basic | main | flex
    total_cents: int
    currency: str
    created_at: datetime
    passengers: list[Passenger]
    segments: list[Segment]
    checked_in: set[str] = field(default_factory=set)  # passenger ids


@dataclass(kw_only=True)
class Verification:
    status: str  # verified | unverified | pending_documents | failed
    method: str | None = None
    verified_at: datetime | None = None


@dataclass(kw_only=True)
class Redemption:
    redemption_id: str
    kind: str
    miles: int
    reference: str | None
    description: str
    created_at: datetime


@dataclass(kw_only=True)
class Note:
    note_id: str
    channel: str
    text: str
    created_at: datetime
    case_id: str | None = None


@dataclass(kw_only=True)
class Case:
    case_id: str
    customer_id: str
    subject: str
    category: str
    priority: str
    status: str
    created_at: datetime
    notes: list[Note] = field(default_factory=list)


@dataclass(kw_only=True)
class Customer:
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date
    member_since: date
    tier: str  # member | silver | gold | platinum
    miles: int
    lifetime_miles: int
    verification: Verification
    preferences: dict[str, str]
    redemptions: list[Redemption] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(kw_only=True)
class PaymentMethod:
    payment_method_id: str
    customer_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    holder_name: str

    def expired(self, today: date) -> bool:
        return (self.exp_year, self.exp_month) < (today.year, today.month)


@dataclass(kw_only=True)
class Refund:
    refund_id: str
    charge_id: str
    amount_cents: int
    reason: str
    created_at: datetime


@dataclass(kw_only=True)
class Charge:
    charge_id: str
    customer_id: str
    payment_method_id: str
    amount_cents: int
    currency: str
    description: str
    status: str  # succeeded | failed
    created_at: datetime
    reference: str | None = None
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded_cents(self) -> int:
        return sum(refund.amount_cents for refund in self.refunds)


@dataclass(kw_only=True)
class Withdrawal:
    withdrawal_id: str
    customer_id: str
    amount_cents: int
    currency: str
    payment_method_id: str
    status: str  # pending | processing | completed | rejected
    requested_at: datetime
    status_reason: str | None = None
    completed_at: datetime | None = None


@dataclass(kw_only=True)
class Wallet:
    customer_id: str
    currency: str
    balance_cents: int
    deposit_limits: dict[str, int | None]  # daily | weekly | monthly -> cents (None: no limit)
    # A raised (or removed) limit waiting out its cooling-off period: period -> (cents, from).
    pending_limits: dict[str, tuple[int | None, datetime]] = field(default_factory=dict)
    withdrawals: list[Withdrawal] = field(default_factory=list)


@dataclass(kw_only=True)
class Plan:
    plan_id: str
    name: str
    annual_maximum_cents: int
    deductible_cents: int
    coverage: dict[str, int]  # procedure class -> percent paid
    waiting_months: dict[str, int]  # procedure class -> months from coverage start


@dataclass(kw_only=True)
class Member:
    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    plan_id: str
    group_number: str
    coverage_start: date
    coverage_end: date | None
    deductible_met_cents: int
    maximum_used_cents: int


@dataclass(kw_only=True)
class Provider:
    provider_id: str
    name: str
    specialty: str
    city: str
    state: str
    zip: str
    phone: str
    networks: list[str]
    accepting_new_patients: bool


@dataclass(kw_only=True)
class ClaimLine:
    procedure_code: str
    tooth: str | None
    charged_cents: int
    allowed_cents: int | None = None
    paid_cents: int | None = None


@dataclass(kw_only=True)
class ClaimEvent:
    status: str
    at: datetime
    note: str


@dataclass(kw_only=True)
class Claim:
    claim_id: str
    member_id: str
    provider_id: str
    status: str  # received | under_review | pending_information | approved | denied | paid
    date_of_service: date
    submitted_at: datetime
    lines: list[ClaimLine]
    history: list[ClaimEvent]
    expected_decision_by: date | None = None
