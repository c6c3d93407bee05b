"""Payments never charge or refund twice, whatever the retries and races; keys elsewhere too."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from harness import LoopThread

from mocks.server import MockCluster

REFERENCES = (f"IDEM{n:02d}" for n in itertools.count())


@pytest.fixture
def payments(cluster: MockCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.base_urls["payments"]) as client:
        yield client
        client.delete("/_admin/faults")


def _charge_body(reference: str, amount: int = 7_500) -> dict[str, Any]:
    return {
        "customer_id": "C-1001",
        "payment_method_id": "pm_1001_1",
        "amount_cents": amount,
        "currency": "USD",
        "description": "change fee",
        "reference": reference,
    }


def _charges(payments: httpx.Client, reference: str) -> list[dict[str, Any]]:
    response = payments.get("/customers/C-1001/charges", params={"reference": reference})
    charges: list[dict[str, Any]] = response.json()["charges"]
    return charges


def _race(
    loop_thread: LoopThread, base_url: str, requests: list[tuple[str, dict[str, Any], str]]
) -> list[httpx.Response]:
    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.post(path, json=body, headers={"Idempotency-Key": key})
                        for path, body, key in requests
                    )
                )
            )

    return loop_thread.run(send())


def test_concurrent_identical_charges_charge_exactly_once(
    cluster: MockCluster, loop_thread: LoopThread, payments: httpx.Client
) -> None:
    # A little latency keeps all the requests in flight at once.
    payments.put(
        "/_admin/faults",
        json={
            "operations": {"createCharge": {"latency": {"distribution": "constant", "mean_ms": 30}}}
        },
    ).raise_for_status()
    payments.delete("/_admin/requests")
    reference = next(REFERENCES)
    body = _charge_body(reference)
    responses = _race(
        loop_thread, cluster.base_urls["payments"], [("/charges", body, "race-charge")] * 8
    )

    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["charge_id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 7
    assert len(_charges(payments, reference)) == 1
    # The requests really raced: every one started before any of them finished.
    log = payments.get("/_admin/requests").json()["requests"]
    intervals = [(r["started_at"], r["ended_at"]) for r in log if r["path"] == "/charges"]
    assert len(intervals) == 8
    assert max(start for start, _ in intervals) < min(end for _, end in intervals)
    assert {r["idempotency_key"] for r in log if r["path"] == "/charges"} == {"race-charge"}


def test_a_key_reused_for_a_different_request_is_refused(payments: httpx.Client) -> None:
    reference = next(REFERENCES)
    first = payments.post(
        "/charges", json=_charge_body(reference), headers={"Idempotency-Key": "reuse-1"}
    )
    assert first.status_code == 201
    other = payments.post(
        "/charges", json=_charge_body(reference, 9_900), headers={"Idempotency-Key": "reuse-1"}
    )
    assert other.status_code == 422
    assert "already used" in other.json()["detail"]
    assert [c["amount_cents"] for c in _charges(payments, reference)] == [7_500]


def test_a_refund_never_exceeds_the_charge_even_when_refunds_race(
    cluster: MockCluster, loop_thread: LoopThread, payments: httpx.Client
) -> None:
    reference = next(REFERENCES)
    charge = payments.post(
        "/charges", json=_charge_body(reference, 10_000), headers={"Idempotency-Key": reference}
    ).json()
    path = f"/charges/{charge['charge_id']}/refunds"
    too_much = payments.post(
        path,
        json={"amount_cents": 10_001, "reason": "goodwill"},
        headers={"Idempotency-Key": f"{reference}-big"},
    )
    assert too_much.status_code == 409
    assert "10000 cents" in too_much.json()["detail"]

    # Five different refunds of 30.00 race for a 100.00 charge: only three fit.
    body = {"amount_cents": 3_000, "reason": "flight_cancelled"}
    responses = _race(
        loop_thread,
        cluster.base_urls["payments"],
        [(path, body, f"{reference}-part-{n}") for n in range(5)],
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 409, 409]
    final = payments.get(
        f"/charges/{charge['charge_id']}", params={"customer_id": charge["customer_id"]}
    ).json()
    assert final["refunded_cents"] == 9_000
    assert final["refundable_cents"] == 1_000
    assert final["status"] == "partially_refunded"


def test_a_replayed_refund_refunds_once(payments: httpx.Client) -> None:
    reference = next(REFERENCES)
    charge = payments.post(
        "/charges", json=_charge_body(reference, 5_000), headers={"Idempotency-Key": reference}
    ).json()
    path = f"/charges/{charge['charge_id']}/refunds"
    body = {"amount_cents": 5_000, "reason": "flight_cancelled"}
    first = payments.post(path, json=body, headers={"Idempotency-Key": f"{reference}-r"})
    again = payments.post(path, json=body, headers={"Idempotency-Key": f"{reference}-r"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (
        payments.get(
            f"/charges/{charge['charge_id']}", params={"customer_id": charge["customer_id"]}
        ).json()["refunds"]
        == first.json()["refunds"]
    )


def test_other_backends_honour_an_optional_key_too(cluster: MockCluster) -> None:
    with httpx.Client(base_url=cluster.base_urls["crm"]) as crm:
        before = crm.get("/customers/C-1005/loyalty").json()
        price = next(o["miles"] for o in before["redemption_options"] if o["kind"] == "lounge_pass")
        body = {"kind": "lounge_pass", "miles": price}
        first = crm.post(
            "/customers/C-1005/loyalty/redemptions", json=body, headers={"Idempotency-Key": "rd-1"}
        )
        again = crm.post(
            "/customers/C-1005/loyalty/redemptions", json=body, headers={"Idempotency-Key": "rd-1"}
        )
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert crm.get("/customers/C-1005/loyalty").json()["miles"] == before["miles"] - price
        # Without a key, each request is its own redemption.
        crm.post("/customers/C-1005/loyalty/redemptions", json=body)
        assert crm.get("/customers/C-1005/loyalty").json()["miles"] == before["miles"] - 2 * price
