"""The sportsbook wallet's balance through the whole mesh, told apart from the airline miles.

C-1006 has both: 1,875.40 USD in the wallet and 2,400 miles. Other tests withdraw from that
wallet, so these pin it to its seeded state for their own turns and put it back afterwards.
C-1002's wallet holds a pending withdrawal and their identity waits for documents; C-1001 flies
and has no sportsbook wallet. Nothing here changes a wallet through the payments system.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_mesh_scenarios import calls, finished, intent, reply, turn

from mocks.common.app import backend_of
from mocks.common.faults import FaultConfig, FaultSpec
from services.mesh import Mesh
from switchboard.v1 import common_pb2

BOTH = "C-1006"
PENDING = "C-1002"
NO_WALLET = "C-1001"
REMINDER = (
    "If betting stops being fun, you can set a deposit limit or take a break at any time; just "
    "ask and I'll connect you with our responsible gaming team."
)


@pytest.fixture
def as_seeded(mesh: Mesh) -> Iterator[None]:
    """C-1006's wallet as the demo world seeds it (187,540 cents, no withdrawal pending) for the
    test's turns, then as it was before."""
    assert mesh.mocks.world is not None
    wallet = mesh.mocks.world.wallets[BOTH]
    balance, withdrawals = wallet.balance_cents, list(wallet.withdrawals)
    wallet.balance_cents = 187_540
    wallet.withdrawals[:] = [w for w in withdrawals if w.withdrawal_id == "W-5002"]
    try:
        yield
    finally:
        wallet.balance_cents = balance
        wallet.withdrawals[:] = withdrawals


@pytest.mark.parametrize(
    ("session", "text"),
    [
        ("wallet-balance-wallet", "what's my wallet balance?"),
        ("wallet-balance-money", "how much money is in my account?"),
        ("wallet-balance-betting", "how much do I have in my betting account"),
    ],
)
def test_the_wallet_balance_is_the_money_in_the_wallet_not_the_miles(
    mesh: Mesh, as_seeded: None, session: str, text: str
) -> None:
    events = turn(mesh, session, text, BOTH)
    assert intent(events) == "wallet_balance"
    assert set(finished(events)) == {"getWallet"}
    assert reply(events) == f"Your sportsbook wallet holds 1,875.40 USD.\n\n{REMINDER}"


@pytest.mark.parametrize(
    ("session", "text"),
    [
        ("wallet-balance-miles", "how many miles do I have?"),
        ("wallet-balance-miles-balance", "what's my miles balance?"),
    ],
)
def test_a_miles_question_is_still_answered_with_the_miles(
    mesh: Mesh, session: str, text: str
) -> None:
    events = turn(mesh, session, text, BOTH)
    assert intent(events) == "loyalty_balance"
    assert set(finished(events)) == {"getLoyaltyAccount"}
    assert reply(events).startswith("You're Member tier with 2,400 miles."), reply(events)
    assert "USD" not in reply(events) and REMINDER not in reply(events)


def test_how_much_can_be_withdrawn_reads_the_balance_and_withdraws_nothing(
    mesh: Mesh, as_seeded: None
) -> None:
    before = len(calls(mesh, "payments", "createWithdrawal"))
    verified = turn(mesh, "wallet-balance-withdraw", "how much can I withdraw?", BOTH)
    assert intent(verified) == "wallet_balance"
    assert set(finished(verified)) == {"getWallet", "getIdentityVerification"}
    assert reply(verified) == (
        f"Your sportsbook wallet holds 1,875.40 USD. You can withdraw up to that amount.\n\n"
        f"{REMINDER}"
    )
    # A withdrawal already requested is out of the balance; an identity still waiting for its
    # documents is no withdrawal yet, whatever the balance.
    waiting = turn(mesh, "wallet-balance-withdraw-pending", "how much can I withdraw?", PENDING)
    assert intent(waiting) == "wallet_balance"
    assert reply(waiting) == (
        "Your sportsbook wallet holds 1,240.50 USD. A withdrawal you requested is still pending "
        "and not counted in that balance. Your verification is waiting for your identity "
        "documents: once they are checked, you can withdraw up to that amount.\n\n"
        f"{REMINDER}"
    )
    assert len(calls(mesh, "payments", "createWithdrawal")) == before


def test_a_customer_without_a_wallet_is_told_so_not_shown_miles(mesh: Mesh) -> None:
    events = turn(mesh, "wallet-balance-none", "what's my wallet balance?", NO_WALLET)
    assert intent(events) == "wallet_balance"
    wallet = finished(events)["getWallet"]
    assert wallet.outcome != common_pb2.STEP_OUTCOME_SUCCEEDED and wallet.http_status == 404
    assert "getLoyaltyAccount" not in finished(events)
    # No balance of any kind is shown, only how to ask for the miles if they were meant.
    assert reply(events) == (
        "I couldn't find a sportsbook wallet on your account, so there is no money balance to "
        "show. If you meant your airline miles, ask me how many miles you have.\n\n"
        f"{REMINDER}"
    )
    assert "USD" not in reply(events) and "84,000" not in reply(events)


def test_a_payments_failure_is_said_plainly(mesh: Mesh) -> None:
    faults = backend_of(mesh.mocks.apps["payments"]).faults
    before = faults.config
    faults.configure(FaultConfig(operations={"getWallet": FaultSpec(error_rate=1.0)}))
    try:
        events = turn(mesh, "wallet-balance-down", "what's my wallet balance?", BOTH)
    finally:
        faults.configure(before)
    assert intent(events) == "wallet_balance"
    assert finished(events)["getWallet"].outcome != common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(events) == (
        "I couldn't reach the payments system to check your balance just now. Please try again "
        f"in a few minutes.\n\n{REMINDER}"
    )
