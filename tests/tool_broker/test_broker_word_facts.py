"""Session facts that are words of a closed list (a card's status), as the catalogue reads them.

A contract may declare a fact whose value is a string with an ``enum``: the catalogue keeps the
words, and a result's value is a fact only when it is one of them. Any other string is refused
at load, so no free text (a name, a note) can become a fact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.catalogue import Catalogue
from services.runtime.errors import ConfigError
from services.tool_broker.config import MOCKS_DIR, Backend

_CARD = {
    "type": "object",
    "properties": {
        "payment_method_id": {"type": "string", "pattern": "^pm_[0-9]+_[0-9]+$"},
        "status": {"type": "string", "enum": ["active", "expired"]},
        "holder_name": {"type": "string"},
        "nickname": {"type": "string", "enum": []},
    },
}


def _load(tmp_path: Path, facts: Any) -> Catalogue:
    schema = {
        "type": "object",
        "properties": {"payment_methods": {"type": "array", "items": _CARD}},
    }
    body = {"content": {"application/json": {"schema": schema}}}
    operation = {
        "operationId": "listCards",
        "summary": "Cards.",
        "x-switchboard": {"facts": facts},
        "responses": {"200": {"description": "ok", **body}},
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/cards": {"get": operation}},
    }
    path = tmp_path / "cards.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return Catalogue.load({"cards": Backend(openapi=path, base_url="http://127.0.0.1:1")})


STATUS = {
    "card_status": {"items": "payment_methods", "key": "payment_method_id", "value": "status"}
}


def test_a_word_of_the_enum_is_a_fact_and_nothing_else_is(tmp_path: Path) -> None:
    catalogue = _load(tmp_path, STATUS)
    result = {
        "payment_methods": [
            {"payment_method_id": "pm_1_1", "status": "expired"},
            {"payment_method_id": "pm_1_2", "status": "active"},
            # not a word the contract lists, a placeholder, a number: no fact
            {"payment_method_id": "pm_1_3", "status": "lost"},
            {"payment_method_id": "pm_1_4", "status": "<PERSON_1>"},
            {"payment_method_id": "pm_1_5", "status": 1},
        ]
    }
    assert catalogue.facts("listCards", result) == {
        "card_status": {"pm_1_1": "expired", "pm_1_2": "active"}
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("holder_name", "value 'holder_name' must be typed integer or number, or string with an"),
        ("nickname", "value 'nickname' must be typed integer or number, or string with an enum"),
    ],
)
def test_a_string_without_words_is_no_fact(tmp_path: Path, value: str, reason: str) -> None:
    facts = {"card_status": {**STATUS["card_status"], "value": value}}
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, facts)
    assert "listCards" in str(raised.value) and reason in str(raised.value), raised.value


def test_the_payments_contract_gives_each_cards_status() -> None:
    contract = MOCKS_DIR / "payments" / "openapi.yaml"
    catalogue = Catalogue.load({"payments": Backend(openapi=contract, base_url="http://x")})
    listed = {
        "customer_id": "C-1001",
        "payment_methods": [
            {"payment_method_id": "pm_1001_1", "status": "active", "holder_name": "<PERSON_1>"},
            {"payment_method_id": "pm_1001_2", "status": "expired", "holder_name": "<PERSON_1>"},
        ],
    }
    assert catalogue.facts("listPaymentMethods", listed) == {
        "card_status": {"pm_1001_1": "active", "pm_1001_2": "expired"}
    }
