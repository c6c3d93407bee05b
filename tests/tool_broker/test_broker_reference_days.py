"""The last segment ``day:<when>``: a date taken to the day a customer named."""

from __future__ import annotations

from typing import Any

import pytest

from services.tool_broker.references import UnresolvedReference, resolve

TRIP: dict[str, Any] = {
    "segments": [
        {"date": "2026-11-26", "departs": "2026-11-26T14:05:00Z", "seats": 3, "gate": "B7"}
    ]
}


def _value(path: str) -> Any:
    return resolve("${steps.trip.segments.0." + path + "}", {"trip": TRIP})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("date.day:", "2026-11-26"),
        ("date.day:+1", "2026-11-27"),
        ("date.day:+6", "2026-12-02"),
        ("date.day:-1", "2026-11-25"),
        ("date.day:2026-12-24", "2026-12-24"),
        ("departs.day:+1", "2026-11-27"),
        ("departs.day:", "2026-11-26"),
    ],
)
def test_a_date_is_moved_to_the_day_named(path: str, value: str) -> None:
    assert _value(path) == value


def test_a_slot_left_empty_keeps_the_date_inside_a_longer_string() -> None:
    text = resolve(
        "from ${steps.trip.segments.0.date.day:} to ${steps.trip.segments.0.date.day:+2}",
        {"trip": TRIP},
    )
    assert text == "from 2026-11-26 to 2026-11-28"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("date.day:friday", "'friday' names no day"),
        ("date.day:2026-02-30", "'2026-02-30' names no day"),
        ("date.day:1", "'1' names no day"),
        ("gate.day:+1", "'B7', not a date"),
        ("seats.day:+1", "has no 'day:\\+1'"),
    ],
)
def test_anything_but_a_date_and_a_day_leaves_the_reference_unresolved(
    path: str, reason: str
) -> None:
    with pytest.raises(UnresolvedReference, match=reason):
        _value(path)
