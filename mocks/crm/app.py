"""The CRM backend: customers, verification, loyalty, cases, notes and preferences."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from mocks.common.app import Call, Handler, Reply, build_app
from mocks.common.contract import Contract
from mocks.common.faults import FaultConfig
from mocks.common.jsonish import iso_date, iso_datetime, maybe_datetime
from mocks.common.lockout import Lockout
from mocks.common.problems import Problem, conflict, not_found
from mocks.world import World, build_world
from mocks.world.model import Case, Customer, Note, Redemption

CONTRACT = Path(__file__).with_name("openapi.yaml")
TIERS = ("member", "silver", "gold", "platinum")
TIER_THRESHOLDS = {"member": 0, "silver": 25_000, "gold": 50_000, "platinum": 100_000}
TIER_BENEFITS = {
    "member": ["Earn 5 miles per dollar"],
    "silver": [
        "Earn 7 miles per dollar",
        "One free checked bag",
        "Free preferred seats",
        "Priority check-in",
    ],
    "gold": [
        "Earn 8 miles per dollar",
        "Free preferred seats",
        "Two free checked bags",
        "Upgrades for 20% fewer miles",
        "Priority rebooking during disruptions",
    ],
    "platinum": [
        "Earn 11 miles per dollar",
        "Free preferred seats",
        "Three free checked bags",
        "Upgrades for 40% fewer miles",
        "Lounge access",
        "Priority rebooking during disruptions",
    ],
}
BASE_PRICES = {
    "upgrade": (25_000, "Upgrade one passenger on one segment to business"),
    "lounge_pass": (5_000, "One-day lounge pass"),
    "companion_voucher": (60_000, "Companion ticket voucher, economy, domestic"),
}
TIER_DISCOUNT = {"member": 0, "silver": 0, "gold": 20, "platinum": 40}
MAX_MATCHES = 20
#: failed checks of a caller's date of birth or email before the customer's checks are locked:
#: a chat cannot guess at them (a colleague verifies a locked customer meanwhile)
MAX_FAILED_CHECKS = 5
#: how long a lock holds; the count starts again after it
CHECK_LOCK_SECONDS = 30 * 60
#: verification states a date of birth check leaves as they are, match or not: verified, and
#: waiting for the documents a colleague asked for (a date of birth does not replace them)
_SETTLED_BY_OTHERS = ("verified", "pending_documents")


def redemption_price(tier: str, kind: str) -> int:
    """Miles a redemption costs at a tier; upgrades are cheaper for higher tiers."""
    base = BASE_PRICES[kind][0]
    discount = TIER_DISCOUNT[tier] if kind == "upgrade" else 0
    return base * (100 - discount) // 100


class Crm:
    """The operations of the CRM contract over a world."""

    def __init__(self, world: World) -> None:
        self.world = world
        #: failed identity checks in a row, and the locks they set, by customer
        self.identity_checks = Lockout(MAX_FAILED_CHECKS, CHECK_LOCK_SECONDS)

    def handlers(self) -> dict[str, Handler]:
        return {
            "getCustomer": self.get_customer,
            "findCustomers": self.find_customers,
            "getIdentityVerification": self.get_identity_verification,
            "verifyCustomerIdentity": self.verify_customer_identity,
            "getLoyaltyAccount": self.get_loyalty_account,
            "redeemMiles": self.redeem_miles,
            "listCases": self.list_cases,
            "createCase": self.create_case,
            "addInteractionNote": self.add_interaction_note,
            "getPreferences": self.get_preferences,
            "updatePreferences": self.update_preferences,
        }

    async def get_customer(self, call: Call) -> Reply:
        return Reply(self._render(self._customer(call)))

    async def find_customers(self, call: Call) -> Reply:
        email, phone, last_name = call.arg("email"), call.arg("phone"), call.arg("last_name")
        matches: list[dict[str, Any]] = []
        if not (email or phone or last_name):
            return Reply({"customers": matches})  # no criteria match nobody, never everybody
        for customer in self.world.customers.values():
            if email and customer.email.lower() != email.lower():
                continue
            if phone and customer.phone != phone:
                continue
            if last_name and customer.last_name.lower() != last_name.lower():
                continue
            matches.append(self._render(customer))
            if len(matches) == MAX_MATCHES:
                break
        return Reply({"customers": matches})

    async def get_identity_verification(self, call: Call) -> Reply:
        return Reply(self._verification(self._customer(call)))

    async def verify_customer_identity(self, call: Call) -> Reply:
        customer = self._customer(call)
        if self.identity_checks.locked(customer.customer_id):
            raise Problem(
                409,
                "locked",
                f"{MAX_FAILED_CHECKS} failed checks in a row: the customer's checks are locked for "
                f"{CHECK_LOCK_SECONDS // 60} minutes; a colleague can verify them meanwhile",
            )
        email = call.arg("email")
        if email is not None:
            # Proves the caller holds the account, and only that: the state stays as it was.
            matched = email.casefold() == customer.email.casefold()
        else:
            matched = date.fromisoformat(call.arg("date_of_birth")) == customer.date_of_birth
        self.identity_checks.record(customer.customer_id, matched)
        if email is not None:
            return Reply({"matched": matched, "verification": self._verification(customer)})
        if customer.verification.status not in _SETTLED_BY_OTHERS:
            # Not verified already, nor waiting for documents a date of birth does not replace.
            if matched:
                customer.verification.status = "verified"
                customer.verification.method = "date_of_birth"
                customer.verification.verified_at = self.world.now
            else:
                customer.verification.status = "failed"
        return Reply({"matched": matched, "verification": self._verification(customer)})

    async def get_loyalty_account(self, call: Call) -> Reply:
        customer = self._customer(call)
        rank = TIERS.index(customer.tier)
        next_tier = TIERS[rank + 1] if rank + 1 < len(TIERS) else None
        to_next = (
            max(TIER_THRESHOLDS[next_tier] - customer.miles, 0) if next_tier is not None else None
        )
        return Reply(
            {
                "customer_id": customer.customer_id,
                "tier": customer.tier,
                "miles": customer.miles,
                "lifetime_miles": customer.lifetime_miles,
                "tier_benefits": TIER_BENEFITS[customer.tier],
                "next_tier": next_tier,
                "miles_to_next_tier": to_next,
                "redemption_options": [
                    {
                        "kind": kind,
                        "miles": redemption_price(customer.tier, kind),
                        "description": description,
                    }
                    for kind, (_, description) in BASE_PRICES.items()
                ],
                "redemptions": [_redemption(r) for r in customer.redemptions],
            }
        )

    async def redeem_miles(self, call: Call) -> Reply:
        customer = self._customer(call)
        kind, miles, reference = call.arg("kind"), call.arg("miles"), call.arg("reference")
        price = redemption_price(customer.tier, kind)
        if miles != price:
            raise conflict(f"a {kind} costs {price} miles at {customer.tier} tier, not {miles}")
        if kind == "upgrade":
            if reference is None:
                raise conflict("an upgrade needs the reservation's record locator as reference")
            reservation = self.world.reservations.get(reference)
            if reservation is None or reservation.customer_id != customer.customer_id:
                raise conflict(f"reservation {reference} is not booked by {customer.customer_id}")
        if customer.miles < price:
            raise conflict(f"the balance of {customer.miles} miles does not cover {price}")
        customer.miles -= price
        redemption = Redemption(
            redemption_id=f"RD-{self.world.next_id('RD')}",
            kind=kind,
            miles=price,
            reference=reference,
            description=BASE_PRICES[kind][1],
            created_at=self.world.now,
        )
        customer.redemptions.append(redemption)
        return Reply(
            {"redemption": _redemption(redemption), "miles_balance": customer.miles}, status=201
        )

    async def list_cases(self, call: Call) -> Reply:
        customer = self._customer(call)
        status = call.arg("status")
        # Newest first. The mock's clock stands still, so cases opened in one run share a time:
        # among them the later opened (inserted) comes first.
        cases = [
            (c.created_at, opened, c)
            for opened, c in enumerate(self.world.cases.values())
            if c.customer_id == customer.customer_id and (status is None or c.status == status)
        ]
        cases.sort(key=lambda item: item[:2], reverse=True)
        return Reply({"cases": [_case(c) for _, _, c in cases]})

    async def create_case(self, call: Call) -> Reply:
        customer = self._customer(call)
        case = Case(
            case_id=f"CS-{self.world.next_id('CS')}",
            customer_id=customer.customer_id,
            subject=call.arg("subject"),
            category=call.arg("category"),
            priority=call.arg("priority", "normal"),
            status="open",
            created_at=self.world.now,
            notes=[],
        )
        self.world.cases[case.case_id] = case
        return Reply(_case(case), status=201)

    async def add_interaction_note(self, call: Call) -> Reply:
        customer = self._customer(call)
        case_id = call.arg("case_id")
        note = Note(
            note_id=f"N-{self.world.next_id('N')}",
            channel=call.arg("channel", "chat"),
            text=call.arg("text"),
            created_at=self.world.now,
            case_id=case_id,
        )
        if case_id is not None:
            case = self.world.cases.get(case_id)
            if case is None or case.customer_id != customer.customer_id:
                raise not_found("case", case_id)
            case.notes.append(note)
        else:
            customer.notes.append(note)
        return Reply(_note(note), status=201)

    async def get_preferences(self, call: Call) -> Reply:
        return Reply(_preferences(self._customer(call)))

    async def update_preferences(self, call: Call) -> Reply:
        customer = self._customer(call)
        for name, value in call.body.items():
            customer.preferences[name] = str(value).lower() if isinstance(value, bool) else value
        return Reply(_preferences(customer))

    def _customer(self, call: Call) -> Customer:
        customer_id = call.arg("customer_id")
        customer = self.world.customers.get(customer_id)
        if customer is None:
            raise not_found("customer", customer_id)
        return customer

    def _render(self, customer: Customer) -> dict[str, Any]:
        return {
            "customer_id": customer.customer_id,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "tier": customer.tier,
            "miles": customer.miles,
            "member_since": iso_date(customer.member_since),
            "verification_status": customer.verification.status,
            "has_sportsbook_wallet": customer.customer_id in self.world.wallets,
        }

    @staticmethod
    def _verification(customer: Customer) -> dict[str, Any]:
        return {
            "customer_id": customer.customer_id,
            "status": customer.verification.status,
            "method": customer.verification.method,
            "verified_at": maybe_datetime(customer.verification.verified_at),
        }


def _redemption(redemption: Redemption) -> dict[str, Any]:
    return {
        "redemption_id": redemption.redemption_id,
        "kind": redemption.kind,
        "miles": redemption.miles,
        "reference": redemption.reference,
        "created_at": iso_datetime(redemption.created_at),
    }


def _note(note: Note) -> dict[str, Any]:
    return {
        "note_id": note.note_id,
        "channel": note.channel,
        "text": note.text,
        "created_at": iso_datetime(note.created_at),
        "case_id": note.case_id,
    }


def _case(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "customer_id": case.customer_id,
        "subject": case.subject,
        "category": case.category,
        "priority": case.priority,
        "status": case.status,
        "created_at": iso_datetime(case.created_at),
        "notes": [_note(n) for n in case.notes],
    }


def _preferences(customer: Customer) -> dict[str, Any]:
    prefs = customer.preferences
    return {
        "customer_id": customer.customer_id,
        "contact_channel": prefs["contact_channel"],
        "language": prefs["language"],
        "seat": prefs["seat"],
        "marketing_opt_in": prefs["marketing_opt_in"] == "true",
    }


def create_app(
    world: World | None = None,
    faults: FaultConfig | None = None,
    validate_responses: bool = True,
) -> Starlette:
    """The CRM backend over ``world`` (a fresh default world when omitted)."""
    crm = Crm(world or build_world())
    return build_app("crm", Contract.load(CONTRACT), crm.handlers(), faults, validate_responses)
