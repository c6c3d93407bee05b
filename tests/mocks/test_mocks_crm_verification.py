"""The CRM checks one fact a caller gives: a date of birth verifies them, an email proves the
caller holds the account."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from starlette.testclient import TestClient

from mocks.common.app import build_app
from mocks.common.contract import Contract
from mocks.crm.app import CHECK_LOCK_SECONDS, CONTRACT, MAX_FAILED_CHECKS, Crm
from mocks.server import MockCluster
from mocks.world import build_world
from mocks.world.model import Verification


@pytest.fixture(scope="module")
def crm(cluster: MockCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.base_urls["crm"]) as client:
        yield client


def _verify(crm: httpx.Client | TestClient, customer: str, body: dict[str, str]) -> httpx.Response:
    return crm.post(f"/customers/{customer}/verification", json=body)


def test_the_email_on_the_profile_proves_the_caller_and_changes_nothing(
    crm: httpx.Client,
) -> None:
    assert crm.get("/customers/C-1002").json()["verification_status"] == "pending_documents"

    wrong = _verify(crm, "C-1002", {"email": "someone.else@example.com"})
    assert wrong.status_code == 200, wrong.text
    assert wrong.json()["matched"] is False
    assert wrong.json()["verification"]["status"] == "pending_documents"

    right = _verify(crm, "C-1002", {"email": "Jordan.Patel@Example.com"})
    assert right.status_code == 200, right.text
    assert right.json()["matched"] is True
    # Holding the account is not having one's identity verified (documents still pending).
    assert right.json()["verification"]["status"] == "pending_documents"
    assert crm.get("/customers/C-1002").json()["verification_status"] == "pending_documents"


def test_a_date_of_birth_mismatch_leaves_a_verified_customer_verified(crm: httpx.Client) -> None:
    wrong = _verify(crm, "C-1004", {"date_of_birth": "1990-01-01"})
    assert wrong.json()["matched"] is False
    assert wrong.json()["verification"]["status"] == "verified"


def test_a_date_of_birth_does_not_replace_the_documents_a_verification_waits_for(
    crm: httpx.Client, cluster: MockCluster
) -> None:
    # C-1002 was asked for source-of-funds documents: matched or not, the verification waits.
    assert cluster.world is not None
    on_file = cluster.world.customers["C-1002"].date_of_birth.isoformat()
    assert on_file != "1990-01-01"
    for born in ("1990-01-01", on_file):
        checked = _verify(crm, "C-1002", {"date_of_birth": born})
        assert checked.status_code == 200, checked.text
        assert checked.json()["matched"] is (born != "1990-01-01")
        assert checked.json()["verification"]["status"] == "pending_documents"
    assert crm.get("/customers/C-1002").json()["verification_status"] == "pending_documents"


def test_the_date_of_birth_verifies_the_customer(crm: httpx.Client, cluster: MockCluster) -> None:
    # A customer of this test alone, never verified.
    assert cluster.world is not None
    customers = cluster.world.customers
    customers["C-99001"] = dataclasses.replace(
        customers["C-1005"],
        customer_id="C-99001",
        date_of_birth=date(1988, 3, 14),
        verification=Verification(status="unverified"),
    )
    try:
        wrong = _verify(crm, "C-99001", {"date_of_birth": "1988-03-15"})
        assert wrong.json()["matched"] is False
        assert wrong.json()["verification"]["status"] == "failed"
        right = _verify(crm, "C-99001", {"date_of_birth": "1988-03-14"})
        assert right.json()["matched"] is True
        verification = right.json()["verification"]
        assert (verification["status"], verification["method"]) == ("verified", "date_of_birth")
    finally:
        del customers["C-99001"]


def test_a_date_of_birth_leaves_how_a_customer_was_verified_as_it_was(crm: httpx.Client) -> None:
    # C-1005 was verified by a document: a matching date of birth does not replace it.
    right = _verify(crm, "C-1005", {"date_of_birth": "1988-03-14"})
    assert right.json()["matched"] is True
    verification = right.json()["verification"]
    assert (verification["status"], verification["method"]) == ("verified", "document")


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "sofia.reyes@example.com", "date_of_birth": "1988-03-14"}, {"name": "Sofia"}],
)
def test_exactly_one_known_fact_is_checked(crm: httpx.Client, body: dict[str, str]) -> None:
    response = _verify(crm, "C-1006", body)
    assert response.status_code == 400, response.text


def test_five_failed_checks_in_a_row_lock_the_customers_checks(crm: httpx.Client) -> None:
    customer = "C-1003"
    for _ in range(4):
        assert _verify(crm, customer, {"email": "guess@example.com"}).json()["matched"] is False
    # A match resets the count.
    assert _verify(crm, customer, {"email": "jonathan.smith@example.com"}).json()["matched"]
    for _ in range(5):
        assert _verify(crm, customer, {"date_of_birth": "1970-01-01"}).json()["matched"] is False
    locked = _verify(crm, customer, {"email": "jonathan.smith@example.com"})
    assert locked.status_code == 409, locked.text
    assert "jonathan" not in locked.text
    # Only that customer's.
    assert _verify(crm, "C-1005", {"email": "elena.rossi@example.com"}).json()["matched"]


def test_a_lock_lifts_after_its_time_and_the_count_starts_again() -> None:
    crm = Crm(build_world(seed=11, customers=50, members=10))
    clock = _Clock()
    crm.identity_checks.clock = clock
    client = TestClient(build_app("crm", Contract.load(CONTRACT), crm.handlers()))
    customer, email = "C-1005", "elena.rossi@example.com"
    for _ in range(MAX_FAILED_CHECKS):
        wrong = _verify(client, customer, {"email": "guess@example.com"})
        assert wrong.json()["matched"] is False
    clock.now += CHECK_LOCK_SECONDS - 1
    assert _verify(client, customer, {"email": email}).status_code == 409
    clock.now += 1
    assert _verify(client, customer, {"email": email}).json()["matched"] is True
    # Unlocked with a clean count: one more miss locks nothing.
    assert _verify(client, customer, {"email": "guess@example.com"}).json()["matched"] is False
    assert _verify(client, customer, {"email": email}).json()["matched"] is True


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now
