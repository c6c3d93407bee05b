"""An anonymous chat through the whole mesh: a customer number typed in it names an account, not
who types. Nothing of the account is read until the caller proves it is theirs (the email
address on it, checked by the CRM); from then on the chat serves that customer. The proof is not
a verified identity: a withdrawal still waits for the CRM's verification.

The proofs change nothing in the CRM (an email check only reads), so the shared world is left as
it was.
"""

from __future__ import annotations

import itertools

from test_mesh_scenarios import calls, finished, intent, pending_flow, reply, session_of, turn

from services.mesh import Mesh
from switchboard.v1 import common_pb2

PROVE = (
    "Before I look at an account, I need to check that it's yours. Tell me the email address on "
    "the account and I'll check it."
)
MISMATCH = "Those details don't match our records."

_ids = itertools.count()


def _session() -> str:
    return f"identity-proof-{next(_ids)}"


def test_an_anonymous_chat_reads_an_account_only_once_the_caller_proves_it_is_theirs(
    mesh: Mesh,
) -> None:
    session = _session()
    reads = len(calls(mesh, "crm", "getLoyaltyAccount"))

    asked = turn(mesh, session, "what's my miles balance?", "")
    assert reply(asked) == "Could you give me your customer number? It looks like C-1234."

    refused = turn(mesh, session, "C-1001", "")
    (loyalty,) = finished(refused).values()
    assert loyalty.outcome == common_pb2.STEP_OUTCOME_REJECTED, loyalty
    assert reply(refused) == PROVE
    assert len(calls(mesh, "crm", "getLoyaltyAccount")) == reads

    wrong = turn(mesh, session, "it's maya@example.com", "")
    assert intent(wrong) == "verify_identity", reply(wrong)
    assert finished(wrong)["verifyCustomerIdentity"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(wrong).startswith(MISMATCH), reply(wrong)
    assert "maya" not in reply(wrong)
    assert session_of(mesh, session).customer_id == ""

    right = turn(mesh, session, "sorry, it's Maya.Chen@example.com", "")
    # The request refused for want of the proof is offered again.
    assert reply(right) == (
        "Thank you, that matches our records for account C-1001. Shall I go on with what you "
        "asked before?"
    )
    assert session_of(mesh, session).customer_id == "C-1001"

    answered = turn(mesh, session, "yes", "")
    assert finished(answered)["getLoyaltyAccount"].outcome == common_pb2.STEP_OUTCOME_SUCCEEDED
    assert reply(answered).startswith("You're Gold tier with 84,000 miles."), reply(answered)
    again = turn(mesh, session, "what's my miles balance?", "")
    assert reply(again).startswith("You're Gold tier with 84,000 miles."), reply(again)
    # The chat serves C-1001 now: another customer's number reads nothing either.
    other = turn(mesh, session, "what's the miles balance of C-1005?", "")
    assert all(
        r.outcome != common_pb2.STEP_OUTCOME_SUCCEEDED or r.arguments["customer_id"] != "C-1005"
        for r in finished(other).values()
    ), reply(other)
    assert "412,000" not in reply(other)


def test_a_refused_request_goes_on_with_its_details_once_the_caller_proves_it(
    mesh: Mesh,
) -> None:
    session = _session()
    refused = turn(mesh, session, "what's the status of withdrawal W-5001? I'm C-1002", "")
    assert finished(refused)["getWithdrawal"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert reply(refused).startswith(PROVE), reply(refused)
    proven = turn(mesh, session, "jordan.patel@example.com", "")
    assert "Shall I go on with what you asked before?" in reply(proven), reply(proven)
    resumed = turn(mesh, session, "yes please", "")
    status = finished(resumed)["getWithdrawal"]
    assert status.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, reply(resumed)
    assert status.arguments["withdrawal_id"] == "W-5001"
    assert reply(resumed).startswith("Withdrawal W-5001 of 500.00 USD is pending"), reply(resumed)


def test_a_proof_given_with_a_request_is_tried_alone_and_the_request_offered_after_it(
    mesh: Mesh,
) -> None:
    # Planned together, the withdrawals' call was refused (the chat did not know the caller)
    # and the proof with it: "I couldn't check your details just now", then the email asked.
    session = _session()
    asked = "customer C-1002, email wrong@example.com. where's my withdrawal?"
    mismatch = turn(mesh, session, asked, "")
    assert list(finished(mismatch)) == ["verifyCustomerIdentity"], reply(mismatch)
    assert reply(mismatch).startswith(MISMATCH), reply(mismatch)
    # The withdrawal still waits for the proof.
    assert session_of(mesh, session).proof_awaited_intent == "withdrawal_status"

    session = _session()
    asked = (
        "hi, I'm Jordan, customer C-1002, email jordan.patel@example.com. where's my withdrawal?"
    )
    proven = turn(mesh, session, asked, "")
    checked = finished(proven)["verifyCustomerIdentity"]
    assert checked.outcome == common_pb2.STEP_OUTCOME_SUCCEEDED, reply(proven)
    assert "listWithdrawals" not in finished(proven)
    assert "Shall I go on with what you asked before?" in reply(proven), reply(proven)
    assert session_of(mesh, session).customer_id == "C-1002"
    resumed = turn(mesh, session, "yes", "")
    assert reply(resumed).startswith("Withdrawal W-5001 of 500.00 USD is pending"), reply(resumed)


def test_a_number_given_with_the_request_is_asked_for_the_proof_once(mesh: Mesh) -> None:
    session = _session()
    refused = turn(mesh, session, "what's my miles balance? my number is C-1001", "")
    # The refusal asks for the email address; the proof's own question does not follow it, and
    # the proof still waits for the address.
    assert reply(refused) == PROVE
    assert pending_flow(mesh, session) == "verify_identity"
    proven = turn(mesh, session, "maya.chen@example.com", "")
    assert "Shall I go on with what you asked before?" in reply(proven), reply(proven)


def test_a_request_the_chat_moved_on_from_is_not_offered_after_the_proof(mesh: Mesh) -> None:
    session = _session()
    refused = turn(mesh, session, "what's my miles balance? my number is C-1001", "")
    assert reply(refused).startswith(PROVE), reply(refused)
    moved_on = turn(mesh, session, "is flight UA 123 on time?", "")
    assert finished(moved_on), reply(moved_on)
    proven = turn(mesh, session, "my email is maya.chen@example.com", "")
    assert reply(proven) == (
        "Thank you, that matches our records for account C-1001. What can I help you with?"
    )
    assert session_of(mesh, session).offered_intent == ""


def test_a_customer_number_that_is_not_a_customers_is_answered_as_a_mismatch(
    mesh: Mesh,
) -> None:
    session = _session()
    unknown = turn(mesh, session, "my customer number is C-99999, email sam.lee@example.com", "")
    assert intent(unknown) == "verify_identity", reply(unknown)
    assert finished(unknown)["verifyCustomerIdentity"].http_status == 404
    assert reply(unknown).startswith(MISMATCH), reply(unknown)
    assert session_of(mesh, session).customer_id == ""


def test_a_proven_caller_is_not_thereby_verified_for_a_withdrawal(mesh: Mesh) -> None:
    # C-1002's identity documents are still pending: proving the account is theirs reads it, but
    # moves no money out of it.
    session = _session()
    proven = turn(mesh, session, "I'm C-1002, my email is jordan.patel@example.com", "")
    assert reply(proven).startswith("Thank you, that matches our records for account C-1002")
    state = session_of(mesh, session)
    assert (state.customer_id, state.identity_verified) == ("C-1002", False)

    status = turn(mesh, session, "where is my withdrawal?", "")
    assert "W-5001" in reply(status), reply(status)

    withdrawals = len(calls(mesh, "payments", "createWithdrawal"))
    refused = turn(mesh, session, "withdraw 20 dollars to my visa", "")
    assert finished(refused)["createWithdrawal"].outcome == common_pb2.STEP_OUTCOME_REJECTED
    assert "I need to verify your identity" in reply(refused), reply(refused)
    assert len(calls(mesh, "payments", "createWithdrawal")) == withdrawals


def test_a_signed_in_customer_cannot_prove_to_be_another(mesh: Mesh) -> None:
    session = _session()
    # The channel says C-1006 asks: the check is of C-1006, whatever number the message gives.
    other = turn(mesh, session, "verify me, I'm C-1002, email jordan.patel@example.com", "C-1006")
    checked = finished(other)["verifyCustomerIdentity"]
    assert checked.arguments["customer_id"] == "C-1006"
    assert reply(other).startswith(MISMATCH), reply(other)
    assert session_of(mesh, session).customer_id == "C-1006"


def test_five_failed_proofs_lock_the_checks_and_offer_a_colleague(mesh: Mesh) -> None:
    # A generated customer of the world, so that no other test's checks meet the lock.
    world = mesh.mocks.world
    number = max(world.customers, key=lambda c: int(c.removeprefix("C-")))
    email = world.customers[number].email
    session = _session()
    for attempt in range(5):
        guess = turn(mesh, session, f"I'm {number}, my email is guess{attempt}@example.com", "")
        assert reply(guess).startswith(MISMATCH), reply(guess)
    locked = turn(mesh, session, f"I'm {number}, my email is {email}", "")
    assert finished(locked)["verifyCustomerIdentity"].http_status == 409
    assert reply(locked).startswith("I can't check those details"), reply(locked)
    assert session_of(mesh, session).customer_id == ""
