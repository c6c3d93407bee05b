"""Segments of a reference's path that narrow a list: `<field>=<value>`, `!=`, `repeated:`."""

from __future__ import annotations

from typing import Any

import pytest

from services.tool_broker.references import UnresolvedReference, resolve

#: a listing as listCharges answers it (newest first), numbers as they cross a protobuf Struct
CHARGES: dict[str, Any] = {
    "charges": [
        {"charge_id": "ch_3", "amount_cents": 27400.0, "status": "succeeded"},
        {"charge_id": "ch_2", "amount_cents": 3000, "status": "refunded"},
        {"charge_id": "ch_1", "amount_cents": 27400, "status": "succeeded"},
        "not an object",
    ]
}


def _value(path: str, results: dict[str, Any] | None = None) -> Any:
    return resolve("${steps.charges." + path + "}", {"charges": results or CHARGES})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("charges.status=succeeded.0.charge_id", "ch_3"),
        ("charges.status!=succeeded.only.charge_id", "ch_2"),
        ("charges.amount_cents=3000.only.charge_id", "ch_2"),
        ("charges.repeated:amount_cents.1.charge_id", "ch_1"),
        ("charges.status=succeeded.repeated:amount_cents.0.charge_id", "ch_3"),
        ("charges.status!=refunded.repeated:status.1.charge_id", "ch_1"),
    ],
)
def test_a_filter_keeps_the_items_it_names_in_their_order(path: str, value: str) -> None:
    assert _value(path) == value


def test_a_filter_that_keeps_nothing_leaves_the_reference_unresolved() -> None:
    single = {"charges": [{"charge_id": "ch_1", "amount_cents": 27400, "status": "succeeded"}]}
    with pytest.raises(UnresolvedReference, match=r"repeated:amount_cents \(a list of 0\)"):
        _value("charges.repeated:amount_cents.0.charge_id", single)
    with pytest.raises(UnresolvedReference, match="not exactly one"):
        _value("charges.status=succeeded.only.charge_id")
