"""When a turn may rely on the session's lookup that found its customer not verified."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2

from services.router.config import IdentityProof
from services.router.identity import (
    awaiting_proof,
    new_lookup,
    proven_customer,
    recent_lookup,
    sent_tools,
)
from switchboard.v1 import common_pb2, session_pb2

CHECKED_AT = 1_800_000_000.25
TTL_S = 60.0


def _session(customer_id: str = "C-1002") -> session_pb2.Session:
    session = session_pb2.Session(id="s1", version=3)
    session.identity_lookup.CopyFrom(new_lookup(customer_id, CHECKED_AT))
    return session


def test_a_lookup_keeps_its_customer_and_its_time() -> None:
    lookup = new_lookup("C-1002", CHECKED_AT)
    assert lookup.customer_id == "C-1002"
    assert lookup.checked_at.seconds == 1_800_000_000
    assert lookup.checked_at.nanos == pytest.approx(250_000_000, abs=1_000)


@pytest.mark.parametrize("age", [0.0, 1.0, TTL_S - 0.5])
def test_a_lookup_younger_than_the_ttl_is_relied_on(age: float) -> None:
    session = _session()
    found = recent_lookup(session, "C-1002", now=CHECKED_AT + age, ttl_s=TTL_S)
    assert found == session.identity_lookup


@pytest.mark.parametrize("age", [TTL_S, TTL_S + 0.5, 86_400.0])
def test_a_lookup_as_old_as_the_ttl_is_not(age: float) -> None:
    assert recent_lookup(_session(), "C-1002", now=CHECKED_AT + age, ttl_s=TTL_S) is None


def test_a_lookup_dated_after_now_is_not_relied_on() -> None:
    # Written by a replica whose clock is ahead: its age here is unknown.
    assert recent_lookup(_session(), "C-1002", now=CHECKED_AT - 0.5, ttl_s=TTL_S) is None


def test_a_lookup_of_another_customer_is_not_relied_on() -> None:
    assert recent_lookup(_session("C-1001"), "C-1002", now=CHECKED_AT, ttl_s=TTL_S) is None
    assert recent_lookup(_session(), "", now=CHECKED_AT, ttl_s=TTL_S) is None


def test_nothing_is_relied_on_with_the_ttl_at_zero_or_without_a_lookup() -> None:
    assert recent_lookup(_session(), "C-1002", now=CHECKED_AT, ttl_s=0) is None
    empty = session_pb2.Session(id="s1", version=3)
    assert recent_lookup(empty, "C-1002", now=CHECKED_AT, ttl_s=TTL_S) is None


def test_only_steps_refused_or_skipped_never_reached_their_backend() -> None:
    outcomes = {
        "getWallet": common_pb2.STEP_OUTCOME_SUCCEEDED,
        "createCase": common_pb2.STEP_OUTCOME_FAILED,
        "redeemMiles": common_pb2.STEP_OUTCOME_TIMED_OUT,
        "rebookReservation": common_pb2.STEP_OUTCOME_UNAVAILABLE,
        "createWithdrawal": common_pb2.STEP_OUTCOME_REJECTED,
        "addInteractionNote": common_pb2.STEP_OUTCOME_SKIPPED,
    }
    results = [common_pb2.StepResult(tool=tool, outcome=o) for tool, o in outcomes.items()]
    assert sent_tools(results) == {"getWallet", "createCase", "redeemMiles", "rebookReservation"}
    assert sent_tools([]) == frozenset()


PROOFS = [IdentityProof(tool="verifyCustomerIdentity")]


def _proof(
    customer: str,
    matched: object,
    outcome: common_pb2.StepOutcome.ValueType = common_pb2.STEP_OUTCOME_SUCCEEDED,
    tool: str = "verifyCustomerIdentity",
) -> common_pb2.StepResult:
    result, arguments = struct_pb2.Struct(), struct_pb2.Struct()
    result.update({"matched": matched})
    arguments.update({"customer_id": customer, "email": "<EMAIL_1>"})
    return common_pb2.StepResult(
        step_id="check", tool=tool, outcome=outcome, result=result, arguments=arguments
    )


def test_a_proof_that_matched_names_its_customer() -> None:
    assert proven_customer([_proof("C-1001", True)], PROOFS) == "C-1001"


@pytest.mark.parametrize(
    "results",
    [
        [_proof("C-1001", False)],
        # A number is not the expected answer, even one that equals True.
        [_proof("C-1001", 1)],
        [_proof("C-1001", True, common_pb2.STEP_OUTCOME_FAILED)],
        [_proof("C-1001", True, tool="getCustomer")],
        [_proof("", True)],
        # Two proofs of two customers prove neither.
        [_proof("C-1001", True), _proof("C-1002", True)],
        [],
    ],
)
def test_anything_else_proves_no_one(results: list[common_pb2.StepResult]) -> None:
    assert proven_customer(results, PROOFS) == ""


def test_two_proofs_of_one_customer_prove_them() -> None:
    assert proven_customer([_proof("C-1001", True), _proof("C-1001", True)], PROOFS) == "C-1001"


def _refused(rule: str, tool: str = "getLoyaltyAccount") -> common_pb2.StepResult:
    verdict = common_pb2.PolicyVerdict(action=common_pb2.POLICY_ACTION_BLOCK, rule_id=rule)
    return common_pb2.StepResult(
        tool=tool, outcome=common_pb2.STEP_OUTCOME_REJECTED, verdicts=[verdict]
    )


KNOWN_CALLER = "base/customer-data-needs-a-known-caller"


def test_a_request_refused_for_want_of_a_proof_waits_for_one() -> None:
    refused = [_refused(KNOWN_CALLER)]
    assert awaiting_proof("", refused, PROOFS, "loyalty_balance") == "loyalty_balance"
    # The latest refused request is the one that waits.
    refused = [_refused(KNOWN_CALLER, "getWithdrawal")]
    assert awaiting_proof("loyalty_balance", refused, PROOFS, "withdrawal_status") == (
        "withdrawal_status"
    )


def test_a_refusal_for_another_reason_waits_for_no_proof() -> None:
    refused = [_refused("base/verify-before-account-changes")]
    assert awaiting_proof("", refused, PROOFS, "withdrawal_request") == ""


@pytest.mark.parametrize(
    "results",
    [
        [],  # a question asked, a greeting
        [_proof("C-1001", False)],  # a proof that did not match
        [_proof("C-1001", True, common_pb2.STEP_OUTCOME_FAILED)],
    ],
)
def test_a_turn_that_only_tried_a_proof_keeps_the_request_waiting(
    results: list[common_pb2.StepResult],
) -> None:
    assert awaiting_proof("loyalty_balance", results, PROOFS, "verify_identity") == (
        "loyalty_balance"
    )
    assert awaiting_proof("", results, PROOFS, "verify_identity") == ""


def test_a_turn_that_called_other_tools_ends_the_wait() -> None:
    status = common_pb2.StepResult(
        tool="getFlightStatus", outcome=common_pb2.STEP_OUTCOME_SUCCEEDED
    )
    assert awaiting_proof("loyalty_balance", [status], PROOFS, "flight_status") == ""
