"""Requests the contract forbids get a 400 RFC 9457 problem that says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mocks_testing import owned

from mocks.server import MockCluster

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def http(cluster: MockCluster) -> Iterator[dict[str, httpx.Client]]:
    clients = {name: httpx.Client(base_url=url) for name, url in cluster.base_urls.items()}
    yield clients
    for client in clients.values():
        client.close()


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(
    ("backend", "method", "url", "kwargs", "location", "words"),
    [
        ("booking", "GET", "/flights/UA 123/status", {}, "path.flight_number", "does not match"),
        ("booking", "GET", "/flights/UA123/status?date=tomorrow", {}, "query.date", "date"),
        (
            "booking",
            "GET",
            "/flights?origin=ORD&date=2026-03-03",
            {},
            "query.destination",
            "required",
        ),
        (
            "booking",
            "POST",
            "/reservations/SBX7Q2/rebook?customer_id=C-1001",
            {"json": {"segment_id": "S1", "flight_number": "UA891"}},
            "body.date",
            "required",
        ),
        (
            "booking",
            "POST",
            "/reservations/SBX7Q2/cancel?customer_id=C-1001",
            {"json": {"reason": "bored"}},
            "body.reason",
            "is not one of",
        ),
        (
            "booking",
            "PUT",
            "/reservations/SBX7Q2/seats?customer_id=C-1001",
            {"json": {"segment_id": "S1", "passenger_id": "P1", "seat": "12C", "extra": 1}},
            "body",
            "Additional properties",
        ),
        ("crm", "PATCH", "/customers/C-1001/preferences", {"json": {}}, "body", "empty"),
        (
            "payments",
            "POST",
            "/charges",
            {
                "json": {
                    "customer_id": "C-1001",
                    "payment_method_id": "pm_1001_1",
                    "amount_cents": 100,
                    "currency": "USD",
                    "description": "fee",
                }
            },
            "header.Idempotency-Key",
            "required",
        ),
        (
            "payments",
            "POST",
            "/charges",
            {
                "json": {
                    "customer_id": "C-1001",
                    "payment_method_id": "pm_1001_1",
                    "amount_cents": -5,
                    "currency": "USD",
                    "description": "fee",
                },
                "headers": {"Idempotency-Key": "neg-1"},
            },
            "body.amount_cents",
            "minimum",
        ),
        (
            "claims",
            "GET",
            "/members/M-3001/eligibility?provider_id=P-7001&procedure_code=crown"
            "&date_of_service=2026-03-10",
            {},
            "query.procedure_code",
            "does not match",
        ),
        ("knowledge", "GET", "/articles?q=bags&limit=50", {}, "query.limit", "maximum"),
    ],
)
def test_a_request_breaking_the_contract_is_refused_with_a_precise_problem(
    http: dict[str, httpx.Client],
    backend: str,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    location: str,
    words: str,
) -> None:
    body = _problem(http[backend].request(method, url, **kwargs), 400)
    matching = [e for e in body["errors"] if e["location"] == location]
    assert matching, body["errors"]
    assert words.lower() in matching[0]["message"].lower()
    assert location in body["detail"]


def test_every_violation_is_listed_not_only_the_first(http: dict[str, httpx.Client]) -> None:
    response = http["booking"].post(
        "/reservations/bad/rebook", json={"segment_id": "X", "flight_number": "U", "date": "no"}
    )
    locations = {e["location"] for e in _problem(response, 400)["errors"]}
    assert {"path.pnr", "body.segment_id", "body.flight_number", "body.date"} <= locations


def test_a_body_that_is_not_json_is_refused(http: dict[str, httpx.Client]) -> None:
    response = http["crm"].post(
        "/customers/C-1001/notes",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert "not valid JSON" in _problem(response, 400)["detail"]
    response = http["crm"].post("/customers/C-1001/notes", content=b"text=hi")
    _problem(response, 415)


def test_unknown_resources_and_paths_are_404_problems(http: dict[str, httpx.Client]) -> None:
    unknown = http["booking"].get("/reservations/ZZZZZZ", params=owned("SBX7Q2"))
    assert "ZZZZZZ" in _problem(unknown, 404)["detail"]
    _problem(http["crm"].get("/customers/C-99999999"), 404)
    _problem(http["knowledge"].get("/articles/KB-0000"), 404)
    _problem(http["booking"].get("/no/such/path"), 404)


def test_a_record_locator_is_no_key_to_another_customers_trip(
    http: dict[str, httpx.Client],
) -> None:
    booking = http["booking"]
    maya = owned("SBX7Q2")  # C-1001, asking after K4M9TZ: C-1005's trip
    for method, tail, query, body in [
        ("GET", "", {}, None),
        ("GET", "/fare-rules", {}, None),
        ("GET", "/boarding-pass", {"passenger_id": "P1"}, None),
        ("POST", "/cancel", {}, {"reason": "customer_request"}),
    ]:
        foreign, unknown = (
            booking.request(
                method, f"/reservations/{pnr}{tail}", params={**maya, **query}, json=body
            )
            for pnr in ("K4M9TZ", "ZZZZZZ")
        )
        _problem(unknown, 404)
        # The same answer as for a code that does not exist, but for the code itself.
        assert _problem(foreign, 404)["detail"] == "reservation 'K4M9TZ' does not exist"
        assert foreign.text.replace("K4M9TZ", "ZZZZZZ") == unknown.text
    # Nothing was cancelled: its owner still finds it confirmed.
    kept = booking.get("/reservations/K4M9TZ", params=owned("K4M9TZ"))
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "confirmed"


def test_a_record_locator_with_a_passengers_surname_opens_the_trip(
    http: dict[str, httpx.Client],
) -> None:
    booking = http["booking"]
    # K4M9TZ is Elena Rossi's: her surname or full name, in any case, opens it.
    for name in ("Rossi", "rossi", "ROSSI", "Elena  Rossi"):
        found = booking.get("/reservations/K4M9TZ", params={"last_name": name})
        assert found.status_code == 200, (name, found.text)
        assert found.json()["pnr"] == "K4M9TZ"
    fare = booking.get("/reservations/K4M9TZ/fare-rules", params={"last_name": "Rossi"})
    assert fare.status_code == 200, fare.text
    # Another surname answers as a code that does not exist, and cancels nothing.
    for method, tail, body in [("GET", "", None), ("POST", "/cancel", {"reason": "other"})]:
        wrong = booking.request(
            method, f"/reservations/K4M9TZ{tail}", params={"last_name": "Chen"}, json=body
        )
        assert _problem(wrong, 404)["detail"] == "reservation 'K4M9TZ' does not exist"
    # A customer named decides, whatever surname comes with it.
    mixed = booking.get("/reservations/K4M9TZ", params={**owned("SBX7Q2"), "last_name": "Rossi"})
    _problem(mixed, 404)
    # Neither: a record locator alone opens nothing, and says what is missing.
    bare = _problem(booking.get("/reservations/K4M9TZ"), 403)
    assert "customer_id or last_name" in bare["detail"]
    kept = booking.get("/reservations/K4M9TZ", params=owned("K4M9TZ"))
    assert kept.json()["status"] == "confirmed"


def test_a_method_the_contract_does_not_offer_is_405_with_allow(
    http: dict[str, httpx.Client],
) -> None:
    response = http["booking"].delete("/flights/UA123/status")
    _problem(response, 405)
    assert response.headers["allow"] == "GET"


def test_business_rules_answer_with_problems_too(http: dict[str, httpx.Client]) -> None:
    response = http["payments"].post(
        "/charges",
        json={
            "customer_id": "C-1004",
            "payment_method_id": "pm_1004_1",
            "amount_cents": 2500,
            "currency": "USD",
            "description": "seat fee",
        },
        headers={"Idempotency-Key": "expired-card-1"},
    )
    assert "expired" in _problem(response, 402)["detail"]
    response = http["booking"].post(
        "/reservations/SBX7Q2/rebook",
        params=owned("SBX7Q2"),
        json={"segment_id": "S1", "flight_number": "UA457", "date": _tomorrow(http)},
    )
    assert "0 economy seats" in _problem(response, 409)["detail"]


def _tomorrow(http: dict[str, httpx.Client]) -> str:
    date: str = http["booking"].get("/flights/UA123/status").json()["date"]
    return date
