"""Injected latency, errors and timeouts, set by config or the admin API, and the request log."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from harness import LoopThread
from mocks_testing import owned, small_settings
from pydantic import ValidationError

from mocks.common.faults import FaultConfig, FaultInjector, FaultSpec, Latency
from mocks.server import MockCluster, start_mocks


@pytest.fixture
def booking(cluster: MockCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.base_urls["booking"]) as client:
        client.delete("/_admin/requests")
        yield client
        client.delete("/_admin/faults")


@pytest.fixture
def payments(cluster: MockCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.base_urls["payments"]) as client:
        client.delete("/_admin/requests")
        yield client
        client.delete("/_admin/faults")


def _samples(latency: Latency, n: int = 20_000) -> list[float]:
    import random

    rng = random.Random(5)
    return sorted(latency.sample_s(rng) * 1000 for _ in range(n))


@pytest.mark.parametrize("distribution", ["lognormal", "uniform"])
def test_latency_follows_its_mean_and_p99(distribution: str) -> None:
    latency = Latency(distribution=distribution, mean_ms=100, p99_ms=180)
    samples = _samples(latency)
    assert statistics.fmean(samples) == pytest.approx(100, rel=0.05)
    assert samples[int(len(samples) * 0.99)] == pytest.approx(180, rel=0.08)
    assert len({round(s, 3) for s in samples}) > 1000  # a distribution, not a constant


def test_impossible_latencies_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least mean_ms"):
        Latency(mean_ms=100, p99_ms=50)
    with pytest.raises(ValidationError, match="14.9"):
        Latency(distribution="lognormal", mean_ms=10, p99_ms=1000)
    with pytest.raises(ValidationError, match="must not exceed 1"):
        FaultSpec(error_rate=0.7, timeout_rate=0.5)


def test_a_limited_fault_hits_only_the_next_requests() -> None:
    injector = FaultInjector(
        FaultConfig(operations={"getFlightStatus": FaultSpec(error_rate=1, limit=2)})
    )
    decisions = [injector.decide("getFlightStatus").error_status for _ in range(4)]
    assert decisions == [503, 503, None, None]
    assert injector.decide("searchFlights").error_status is None


def test_an_error_fault_set_by_the_admin_api_hits_only_its_operation(
    booking: httpx.Client,
) -> None:
    config = {"operations": {"getFlightStatus": {"error_rate": 1, "error_status": 502}}}
    assert booking.put("/_admin/faults", json=config).status_code == 200
    assert booking.get("/_admin/faults").json()["operations"]["getFlightStatus"]["error_rate"] == 1

    failed = booking.get("/flights/UA123/status")
    assert failed.status_code == 502
    assert failed.headers["content-type"] == "application/problem+json"
    assert booking.get("/reservations/SBX7Q2", params=owned("SBX7Q2")).status_code == 200

    log = booking.get("/_admin/requests").json()["requests"]
    assert [(r["operation_id"], r["status"], r["fault"]) for r in log] == [
        ("getFlightStatus", 502, "error"),
        ("getReservation", 200, None),
    ]
    assert booking.delete("/_admin/faults").status_code == 200
    assert booking.get("/flights/UA123/status").status_code == 200


def test_an_invalid_fault_configuration_is_a_400_problem(booking: httpx.Client) -> None:
    response = booking.put("/_admin/faults", json={"default": {"error_rate": 3}})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["location"] == "default.error_rate"
    response = booking.put("/_admin/faults", json={"operations": {"getFlight": {}}})
    assert response.status_code == 400
    assert "getFlight" in response.json()["detail"]


def test_a_timeout_after_the_charge_loses_the_reply_and_a_retry_charges_once(
    payments: httpx.Client,
) -> None:
    payments.put(
        "/_admin/faults",
        json={
            "operations": {
                "createCharge": {
                    "timeout_rate": 1,
                    "timeout_s": 0.2,
                    "timeout_phase": "after",
                    "limit": 1,
                }
            }
        },
    ).raise_for_status()
    body: dict[str, Any] = {
        "customer_id": "C-1001",
        "payment_method_id": "pm_1001_1",
        "amount_cents": 4_200,
        "currency": "USD",
        "description": "upgrade fee",
        "reference": "TIMEOUT1",
    }
    headers = {"Idempotency-Key": "timeout-retry-1"}
    with pytest.raises(httpx.TransportError):
        payments.post("/charges", json=body, headers=headers)
    retried = payments.post("/charges", json=body, headers=headers)
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"

    charges = payments.get("/customers/C-1001/charges", params={"reference": "TIMEOUT1"})
    assert len(charges.json()["charges"]) == 1
    log = payments.get("/_admin/requests").json()["requests"]
    assert [(r["fault"], r["status"]) for r in log[:2]] == [("timeout", None), (None, 201)]


def test_a_hanging_request_times_out_at_the_client(booking: httpx.Client) -> None:
    booking.put(
        "/_admin/faults",
        json={"default": {"timeout_rate": 1, "timeout_s": 30, "timeout_phase": "before"}},
    ).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        booking.get("/flights/UA123/status", timeout=0.2)
    booking.delete("/_admin/faults")
    assert booking.get("/flights/UA123/status").status_code == 200


def test_the_request_log_records_what_reached_the_backend(payments: httpx.Client) -> None:
    payments.post(
        "/wallets/C-1002/withdrawals?ignored=1",
        json={"amount_cents": 1_000, "payment_method_id": "pm_1002_1"},
        headers={"Idempotency-Key": "log-1"},
    )
    (record,) = payments.get("/_admin/requests").json()["requests"]
    assert record["method"] == "POST"
    assert record["path"] == "/wallets/C-1002/withdrawals"
    assert record["query"] == {"ignored": "1"}
    assert record["body"] == {"amount_cents": 1_000, "payment_method_id": "pm_1002_1"}
    assert record["idempotency_key"] == "log-1"
    assert record["operation_id"] == "createWithdrawal"
    assert record["status"] == 409  # C-1002 is not identity-verified yet
    assert record["started_at"] <= record["ended_at"]
    assert payments.delete("/_admin/requests").status_code == 204
    assert payments.get("/_admin/requests").json() == {"requests": []}


def test_faults_can_be_set_by_configuration(loop_thread: LoopThread) -> None:
    settings = small_settings(
        faults={"knowledge": {"default": {"error_rate": 1}}, "booking": {}},
    )
    cluster = loop_thread.run(start_mocks(settings, ["knowledge"]))
    try:
        with httpx.Client(base_url=cluster.base_urls["knowledge"]) as client:
            assert client.get("/articles", params={"q": "baggage"}).status_code == 503
            assert client.delete("/_admin/faults").status_code == 200
            assert client.get("/articles", params={"q": "baggage"}).status_code == 200
    finally:
        loop_thread.run(cluster.stop())
