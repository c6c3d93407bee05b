"""Cabin layouts and which seats of a flight are taken."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mocks.world.model import Flight

# cabin -> (first row, last row, seat letters, aisle letters, window letters)
LAYOUT = {
    "business": (1, 4, "ACDF", "CD", "AF"),
    "economy": (10, 34, "ABCDEF", "CD", "AF"),
}
EXIT_ROWS = frozenset({14, 15})
EXTRA_LEGROOM_ROWS = frozenset({10, 11, 14, 15})


@dataclass(frozen=True)
class SeatInfo:
    seat: str
    row: int
    cabin: str
    features: tuple[str, ...]


def seats_of(cabin: str) -> list[SeatInfo]:
    first, last, letters, aisle, window = LAYOUT[cabin]
    found = []
    for row in range(first, last + 1):
        for letter in letters:
            features = ["window" if letter in window else "aisle" if letter in aisle else "middle"]
            if row in EXIT_ROWS and cabin == "economy":
                features.append("exit_row")
            if row in EXTRA_LEGROOM_ROWS and cabin == "economy":
                features.append("extra_legroom")
            found.append(SeatInfo(f"{row}{letter}", row, cabin, tuple(features)))
    return found


def cabin_of_seat(seat: str) -> str | None:
    for cabin in LAYOUT:
        if any(info.seat == seat for info in seats_of(cabin)):
            return cabin
    return None


def taken_seats(flight: Flight) -> set[str]:
    """Seats sold to other travellers (a stable pseudo-random fill) plus those assigned here."""
    taken = set(flight.assigned)
    for cabin in LAYOUT:
        seats = [info.seat for info in seats_of(cabin)]
        # The fill depends only on the flight, so the seat map is stable between calls.
        random.Random(f"{flight.flight_number}/{flight.date}/{cabin}").shuffle(seats)
        free = [seat for seat in seats if seat not in flight.assigned]
        others = max(flight.sold[cabin] - sum(1 for s in flight.assigned if s in seats), 0)
        taken.update(free[:others])
    return taken
