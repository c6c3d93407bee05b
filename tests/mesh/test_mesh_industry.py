"""A conversation is about one business: vague follow-ups read as that industry's requests.

The demo mesh loads every industry's packs together, so a follow-up whose words alone fit
another business better ("why was it reduced?" reads as a sportsbook's settled bet, "what are my
options?" as an airline's rebooking) used to be answered as that business's request. Once a turn
has served a request of one industry, the session records it and the router weighs the other
industries' intents down (odds of 1 to 100): a message that plainly is another's still reads as
that, and moves the conversation there.
"""

from __future__ import annotations

from test_mesh_scenarios import finished, intent, reply, session_of, turn

from services.mesh import Mesh

OFFICE = "P-7001"
SPORTSBOOK = "C-1006"
REMINDER = "responsible gaming"


def test_a_dental_office_is_never_answered_as_a_sportsbook(mesh: Mesh) -> None:
    session = "industry-dental-1"
    claim = turn(mesh, session, "what's the status of claim CL-9002?", OFFICE)
    assert intent(claim) == "claim_status" and "paid" in reply(claim)
    assert session_of(mesh, session).industry == "dental"

    reduced = turn(mesh, session, "why was it reduced?", OFFICE)
    assert intent(reduced) != "bet_settlement"
    assert REMINDER not in reply(reduced)
    # The claim it follows, read again: no sportsbook tool ran.
    assert intent(reduced) == "claim_status" and list(finished(reduced)) == ["getClaim"]
    assert "the plan allows 95.00 USD" in reply(reduced)

    options = turn(mesh, session, "what are my options?", OFFICE)
    assert intent(options) == "benefits_summary"
    assert session_of(mesh, session).industry == "dental"


def test_a_sportsbook_customer_asking_for_a_balance_means_the_wallet(mesh: Mesh) -> None:
    alone = turn(mesh, "industry-sportsbook-0", "what's my balance?", SPORTSBOOK)
    assert "wallet" in reply(alone) and "miles" in reply(alone)  # which one? asked
    assert session_of(mesh, "industry-sportsbook-0").industry == ""  # the ladder serves nothing

    session = "industry-sportsbook-1"
    turn(mesh, session, "what's my wallet balance?", SPORTSBOOK)
    balance = turn(mesh, session, "what's my balance?", SPORTSBOOK)
    assert intent(balance) == "wallet_balance"
    assert "getWallet" in finished(balance) and "miles" not in reply(balance)
    assert session_of(mesh, session).industry == "sportsbook"


def test_a_request_that_plainly_is_another_industrys_moves_the_conversation(mesh: Mesh) -> None:
    # Sofia Reyes bets and flies: after her wallet, a flight's status is the airline's. (Read
    # only: a case opened here would change the cases other tests list for her.)
    session = "industry-switch-1"
    turn(mesh, session, "what's my wallet balance?", SPORTSBOOK)
    flight = turn(mesh, session, "is flight UA 123 on time?", SPORTSBOOK)
    assert intent(flight) == "flight_status"
    assert session_of(mesh, session).industry == "airline"
    # Now miles are the balance she means.
    balance = turn(mesh, session, "what's my balance?", SPORTSBOOK)
    assert intent(balance) == "loyalty_balance" and "miles" in reply(balance)


def test_greetings_and_thanks_leave_the_industry_open(mesh: Mesh) -> None:
    session = "industry-general-1"
    turn(mesh, session, "hi there", SPORTSBOOK)
    turn(mesh, session, "thanks!", SPORTSBOOK)
    assert session_of(mesh, session).industry == ""
    # The first request of an industry decides, even after the shared ones.
    turn(mesh, session, "what's my wallet balance?", SPORTSBOOK)
    assert session_of(mesh, session).industry == "sportsbook"
