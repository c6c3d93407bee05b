"""The payments backend: cards, charges, refunds, wallets, withdrawals and deposit limits.

Idempotency keys are handled by the shared app (every operation that declares the
Idempotency-Key header); the handlers only enforce the money rules.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from mocks.common.app import Call, Handler, Reply, build_app
from mocks.common.contract import Contract
from mocks.common.faults import FaultConfig
from mocks.common.jsonish import iso_datetime, maybe_datetime
from mocks.common.problems import Problem, conflict, not_found
from mocks.world import World, build_world
from mocks.world.model import Charge, PaymentMethod, Refund, Wallet, Withdrawal

CONTRACT = Path(__file__).with_name("openapi.yaml")
COOLING_OFF = timedelta(hours=24)
PERIODS = ("daily", "weekly", "monthly")


class Payments:
    """The operations of the payments contract over a world."""

    def __init__(self, world: World) -> None:
        self.world = world
        # One lock per charge or wallet: a rule such as "never refund more than was charged"
        # is checked and applied as one step even when requests with different keys race.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def handlers(self) -> dict[str, Handler]:
        return {
            "listPaymentMethods": self.list_payment_methods,
            "listCharges": self.list_charges,
            "createCharge": self.create_charge,
            "getCharge": self.get_charge,
            "createRefund": self.create_refund,
            "getWallet": self.get_wallet,
            "listWithdrawals": self.list_withdrawals,
            "createWithdrawal": self.create_withdrawal,
            "getWithdrawal": self.get_withdrawal,
            "setDepositLimit": self.set_deposit_limit,
        }

    async def list_payment_methods(self, call: Call) -> Reply:
        customer_id = call.arg("customer_id")
        methods = self.world.payment_methods_of(customer_id)
        return Reply(
            {"customer_id": customer_id, "payment_methods": [self._method(m) for m in methods]}
        )

    async def list_charges(self, call: Call) -> Reply:
        customer_id, reference = call.arg("customer_id"), call.arg("reference")
        charges = [
            c
            for c in self.world.charges.values()
            if c.customer_id == customer_id and (reference is None or c.reference == reference)
        ]
        charges.sort(key=lambda c: c.created_at, reverse=True)
        return Reply({"charges": [_charge(c) for c in charges]})

    async def create_charge(self, call: Call) -> Reply:
        customer_id = call.arg("customer_id")
        method = self._customer_method(customer_id, call.arg("payment_method_id"))
        if method.expired(self.world.today):
            raise Problem(
                402,
                "card-expired",
                f"the {method.brand} card ending {method.last4} expired "
                f"{method.exp_month:02d}/{method.exp_year}",
            )
        # The processor round trip: other requests run meanwhile, which is exactly when a
        # duplicate with the same idempotency key must wait rather than charge again.
        await asyncio.sleep(0)
        charge = Charge(
            charge_id=f"ch_{self.world.next_id('ch', 10_000)}",
            customer_id=customer_id,
            payment_method_id=method.payment_method_id,
            amount_cents=call.arg("amount_cents"),
            currency=call.arg("currency"),
            description=call.arg("description"),
            status="succeeded",
            created_at=self.world.now,
            reference=call.arg("reference"),
        )
        self.world.charges[charge.charge_id] = charge
        return Reply(_charge(charge), status=201)

    async def get_charge(self, call: Call) -> Reply:
        charge = self._charge(call.arg("charge_id"))
        # Another customer's charge is as unknown as one that does not exist: read, it would
        # become a charge this conversation may refund.
        if charge.customer_id != call.arg("customer_id"):
            raise not_found("charge", charge.charge_id)
        return Reply(_charge(charge))

    async def create_refund(self, call: Call) -> Reply:
        charge = self._charge(call.arg("charge_id"))
        amount = call.arg("amount_cents")
        async with self._locks[charge.charge_id]:
            refundable = charge.amount_cents - charge.refunded_cents
            if amount > refundable:
                raise conflict(
                    f"only {refundable} cents of {charge.charge_id} are refundable, not {amount}"
                )
            await asyncio.sleep(0)  # the processor round trip, as for charges
            charge.refunds.append(
                Refund(
                    refund_id=f"re_{self.world.next_id('re')}",
                    charge_id=charge.charge_id,
                    amount_cents=amount,
                    reason=call.arg("reason"),
                    created_at=self.world.now,
                )
            )
        return Reply(_charge(charge), status=201)

    async def get_wallet(self, call: Call) -> Reply:
        return Reply(self._render_wallet(self._wallet(call.arg("customer_id"))))

    async def list_withdrawals(self, call: Call) -> Reply:
        wallet = self._wallet(call.arg("customer_id"))
        status = call.arg("status")
        found = [w for w in wallet.withdrawals if status is None or w.status == status]
        found.sort(key=lambda w: w.requested_at, reverse=True)
        return Reply({"withdrawals": [self._withdrawal(w) for w in found]})

    async def create_withdrawal(self, call: Call) -> Reply:
        customer_id = call.arg("customer_id")
        wallet = self._wallet(customer_id)
        method = self._customer_method(customer_id, call.arg("payment_method_id"))
        customer = self.world.customers.get(customer_id)
        if customer is None or customer.verification.status != "verified":
            raise conflict(f"{customer_id} must pass identity verification before withdrawing")
        if method.expired(self.world.today):
            raise conflict(f"the card ending {method.last4} has expired")
        amount = call.arg("amount_cents")
        async with self._locks[f"wallet/{customer_id}"]:
            if amount > wallet.balance_cents:
                raise conflict(
                    f"the balance of {wallet.balance_cents} cents does not cover {amount}"
                )
            await asyncio.sleep(0)
            wallet.balance_cents -= amount
        withdrawal = Withdrawal(
            withdrawal_id=f"W-{self.world.next_id('W', 6001)}",
            customer_id=customer_id,
            amount_cents=amount,
            currency=wallet.currency,
            payment_method_id=method.payment_method_id,
            status="pending",
            requested_at=self.world.now,
            status_reason="awaiting the daily payout run",
        )
        wallet.withdrawals.append(withdrawal)
        self.world.withdrawals[withdrawal.withdrawal_id] = withdrawal
        return Reply(self._withdrawal(withdrawal), status=201)

    async def get_withdrawal(self, call: Call) -> Reply:
        withdrawal_id = call.arg("withdrawal_id")
        withdrawal = self.world.withdrawals.get(withdrawal_id)
        # Another wallet's withdrawal is as unknown as one that does not exist.
        if withdrawal is None or withdrawal.customer_id != call.arg("customer_id"):
            raise not_found("withdrawal", withdrawal_id)
        return Reply(self._withdrawal(withdrawal))

    async def set_deposit_limit(self, call: Call) -> Reply:
        wallet = self._wallet(call.arg("customer_id"))
        period, amount = call.arg("period"), call.arg("amount_cents")
        current = wallet.deposit_limits.get(period)
        tighter = amount is not None and (current is None or amount <= current)
        if tighter:
            wallet.deposit_limits[period] = amount
            wallet.pending_limits.pop(period, None)
        else:
            wallet.pending_limits[period] = (amount, self.world.now + COOLING_OFF)
        return Reply(self._render_wallet(wallet))

    def _customer_method(self, customer_id: str, payment_method_id: str) -> PaymentMethod:
        method = self.world.payment_methods.get(payment_method_id)
        if method is None or method.customer_id != customer_id:
            raise not_found(f"payment method of {customer_id}", payment_method_id)
        return method

    def _charge(self, charge_id: str) -> Charge:
        charge = self.world.charges.get(charge_id)
        if charge is None:
            raise not_found("charge", charge_id)
        return charge

    def _wallet(self, customer_id: str) -> Wallet:
        wallet = self.world.wallets.get(customer_id)
        if wallet is None:
            raise not_found("sportsbook wallet of customer", customer_id)
        return wallet

    def _method(self, method: PaymentMethod) -> dict[str, Any]:
        return {
            "payment_method_id": method.payment_method_id,
            "brand": method.brand,
            "last4": method.last4,
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
            "status": "expired" if method.expired(self.world.today) else "active",
            "holder_name": method.holder_name,
        }

    def _render_wallet(self, wallet: Wallet) -> dict[str, Any]:
        limits = []
        for period in PERIODS:
            pending = wallet.pending_limits.get(period)
            limits.append(
                {
                    "period": period,
                    "amount_cents": wallet.deposit_limits.get(period),
                    "pending_amount_cents": pending[0] if pending else None,
                    "pending_effective_at": iso_datetime(pending[1]) if pending else None,
                }
            )
        return {
            "customer_id": wallet.customer_id,
            "currency": wallet.currency,
            "balance_cents": wallet.balance_cents,
            "deposit_limits": limits,
            "pending_withdrawals": sum(
                1 for w in wallet.withdrawals if w.status in ("pending", "processing")
            ),
        }

    def _withdrawal(self, withdrawal: Withdrawal) -> dict[str, Any]:
        until = withdrawal.completed_at or self.world.now
        return {
            "withdrawal_id": withdrawal.withdrawal_id,
            "customer_id": withdrawal.customer_id,
            "amount_cents": withdrawal.amount_cents,
            "currency": withdrawal.currency,
            "payment_method_id": withdrawal.payment_method_id,
            "status": withdrawal.status,
            "requested_at": iso_datetime(withdrawal.requested_at),
            "days_waiting": max((until - withdrawal.requested_at).days, 0),
            "status_reason": withdrawal.status_reason,
            "completed_at": maybe_datetime(withdrawal.completed_at),
        }


def _charge(charge: Charge) -> dict[str, Any]:
    refunded = charge.refunded_cents
    status = (
        "succeeded"
        if refunded == 0
        else "refunded"
        if refunded == charge.amount_cents
        else "partially_refunded"
    )
    return {
        "charge_id": charge.charge_id,
        "customer_id": charge.customer_id,
        "payment_method_id": charge.payment_method_id,
        "amount_cents": charge.amount_cents,
        "currency": charge.currency,
        "description": charge.description,
        "status": status,
        "created_at": iso_datetime(charge.created_at),
        "reference": charge.reference,
        "refunded_cents": refunded,
        "refundable_cents": charge.amount_cents - refunded,
        "refunds": [
            {
                "refund_id": r.refund_id,
                "amount_cents": r.amount_cents,
                "reason": r.reason,
                "created_at": iso_datetime(r.created_at),
            }
            for r in charge.refunds
        ],
    }


def create_app(
    world: World | None = None,
    faults: FaultConfig | None = None,
    validate_responses: bool = True,
) -> Starlette:
    """The payments backend over ``world`` (a fresh default world when omitted)."""
    payments = Payments(world or build_world())
    return build_app(
        "payments", Contract.load(CONTRACT), payments.handlers(), faults, validate_responses
    )
