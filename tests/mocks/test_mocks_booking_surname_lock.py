"""A reservation code's surname checks lock after five surnames in a row that name no passenger,
for any code (a lock tells nothing of whether the code exists), and open again later."""

from __future__ import annotations

from starlette.testclient import TestClient

from mocks.booking.app import CONTRACT, SURNAME_LOCK_SECONDS, SURNAME_TRIES, Booking
from mocks.common.app import build_app
from mocks.common.contract import Contract
from mocks.world import build_world


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _client() -> tuple[TestClient, _Clock]:
    booking = Booking(build_world(seed=11, customers=50, members=10))
    clock = _Clock()
    booking.surname_checks.clock = clock
    return TestClient(build_app("booking", Contract.load(CONTRACT), booking.handlers())), clock


def _read(client: TestClient, pnr: str, surname: str) -> tuple[int, str]:
    response = client.get(f"/reservations/{pnr}", params={"last_name": surname})
    return response.status_code, response.json().get("type", "").rsplit("/", 1)[-1]


def test_five_wrong_surnames_lock_the_code_for_a_while() -> None:
    client, clock = _client()
    for _ in range(SURNAME_TRIES - 1):
        assert _read(client, "K4M9TZ", "Chen") == (404, "not-found")
    # A match before the fifth miss starts the count again.
    assert _read(client, "K4M9TZ", "Rossi")[0] == 200
    for _ in range(SURNAME_TRIES):
        assert _read(client, "K4M9TZ", "Chen") == (404, "not-found")
    # Locked: even the right surname opens nothing, for the customer's number it still does.
    assert _read(client, "K4M9TZ", "Rossi") == (403, "locked")
    owner = client.get("/reservations/K4M9TZ", params={"customer_id": "C-1005"})
    assert owner.status_code == 200
    clock.now += SURNAME_LOCK_SECONDS - 1
    assert _read(client, "K4M9TZ", "Rossi") == (403, "locked")
    clock.now += 1
    assert _read(client, "K4M9TZ", "Rossi")[0] == 200


def test_a_code_that_does_not_exist_locks_alike() -> None:
    client, _ = _client()
    for _ in range(SURNAME_TRIES):
        assert _read(client, "ZZZZZ9", "Chen") == (404, "not-found")
    assert _read(client, "ZZZZZ9", "Chen") == (403, "locked")
    # Other codes are not held by it.
    assert _read(client, "K4M9TZ", "Rossi")[0] == 200
