"""Sportsbook customers built for one test: verified like C-1006, 120.00 USD in the wallet and
the cards asked for, removed afterwards so that no other test sees them."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterator

from test_mesh_scenarios import calls, turn

from mocks.world.model import PaymentMethod, Wallet
from services.mesh import Mesh
from switchboard.v1 import events_pb2

#: brand, last four digits and whether the card has expired (each expires in November, two
#: years ahead or last year)
Card = tuple[str, str, bool]
#: CRM ids no demo or generated customer has (the contract allows up to eight digits)
_IDS = itertools.count(9_200_001)


@contextlib.contextmanager
def verified_customers(mesh: Mesh) -> Iterator[Callable[..., str]]:
    """A builder of such customers (``build(*cards) -> customer id``); its customers, their
    wallets and cards leave the world when the block ends."""
    world = mesh.mocks.world
    assert world is not None
    made: list[tuple[str, int]] = []

    def build(*cards: Card) -> str:
        number = next(_IDS)
        customer_id = f"C-{number}"
        world.customers[customer_id] = dataclasses.replace(
            world.customers["C-1006"], customer_id=customer_id, email=f"c-{number}@example.com"
        )
        for index, (brand, last4, expired) in enumerate(cards, 1):
            world.add_payment_method(
                PaymentMethod(
                    payment_method_id=f"pm_{number}_{index}",
                    customer_id=customer_id,
                    brand=brand,
                    last4=last4,
                    exp_month=11,
                    exp_year=world.today.year + (-1 if expired else 2),
                    holder_name="Card Holder",
                )
            )
        world.wallets[customer_id] = Wallet(
            customer_id=customer_id, currency="USD", balance_cents=12_000, deposit_limits={}
        )
        made.append((customer_id, len(cards)))
        return customer_id

    try:
        yield build
    finally:
        for customer_id, cards in made:
            del world.wallets[customer_id], world.customers[customer_id]
            for index in range(1, cards + 1):
                del world.payment_methods[f"pm_{customer_id[2:]}_{index}"]


def withdrawals_made(mesh: Mesh) -> int:
    """How many withdrawals the payments backend was asked to make."""
    return len(calls(mesh, "payments", "createWithdrawal"))


#: the request of the ``asked`` fixture (tests/mesh/conftest.py)
WITHDRAW = "I want to withdraw 50 dollars"


@dataclasses.dataclass(frozen=True)
class AskedWithdrawal:
    """A verified customer of one test, with one active card, who has just asked for WITHDRAW
    in a session of their own: the withdrawal waits for their yes."""

    mesh: Mesh
    customer: str
    session: str
    #: the asking turn's events
    events: list[events_pb2.TurnEvent]
    #: how many withdrawals the payments backend had made once the request was asked
    made_before: int

    def say(self, text: str) -> list[events_pb2.TurnEvent]:
        """The customer's next message in the same session."""
        return turn(self.mesh, self.session, text, self.customer)
