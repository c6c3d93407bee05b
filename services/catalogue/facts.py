"""Session facts a tool's result gives: the ``facts`` of an operation's ``x-switchboard``.

Tool-call rules read what the session knows (``session.charges``, ``session.miles_balance``).
Some of it is only known from the backends, so an operation's contract says which of its
results' fields are such facts, and the tool-broker hands them to the checks of the plan's later
steps. A declaration names the fact and where its number is::

    x-switchboard:
      facts:
        charges: {items: charges, key: charge_id, value: refundable_cents}   # listCharges
        charges: {key: charge_id, value: refundable_cents}                   # getCharge
        miles_balance: {value: miles}                                         # getLoyaltyAccount

``key`` makes the fact a map (one entry per item: charge id -> cents); ``items`` is the list the
items are in (without it the result is the one item); without ``key`` the fact is one value.
Paths are dot-separated property names. Results reach the broker masked, and facts travel to
governance with every check, so a fact is only ever a number or a word of a closed list under an
id: the contract must type ``value`` as an integer or a number, or as a string with an ``enum``
(a status such as a card's ``active``/``expired``, never free text), and ``key`` as a string with
a ``pattern`` (an id's shape, never a name) in every successful response, or the catalogue does
not load. A word is read only when it is one the enum lists::

        card_status: {items: payment_methods, key: payment_method_id, value: status}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from services.catalogue.spec import FactSource

#: facts the router owns: a backend's answer never says that the customer confirmed or is verified
RUNTIME_FACTS = frozenset(
    {
        "id",
        "identity_verified",
        "confirmed",
        "customer_id",
        "fallbacks_in_a_row",
        "awaiting_answer",
    }
)
_FACT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIELDS = frozenset({"items", "key", "value"})
_NUMBERS = frozenset({"integer", "number"})


class FactError(Exception):
    """A ``facts`` declaration the catalogue cannot honour; the message says which and why."""


def parse_facts(raw: Any, bodies: Mapping[str, dict[str, Any] | None]) -> tuple[FactSource, ...]:
    """The declarations of ``x-switchboard.facts``, each checked against the successful
    responses' schemas (``bodies``: "200", "2XX", ... -> schema, None for no body)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise FactError("x-switchboard.facts must be a mapping of fact names to declarations")
    successes = {k: v for k, v in bodies.items() if k.startswith("2")}
    if not successes or any(schema is None for schema in successes.values()):
        raise FactError(
            "x-switchboard.facts needs every successful response to have a JSON body to read"
        )
    sources = []
    for name, declaration in raw.items():
        where = f"x-switchboard.facts.{name}"
        if not isinstance(name, str) or not _FACT_NAME.match(name):
            raise FactError(f"{where}: a fact's name must match {_FACT_NAME.pattern}")
        if name in RUNTIME_FACTS:
            raise FactError(
                f"{where}: {name!r} is a fact the runtime owns ({', '.join(sorted(RUNTIME_FACTS))})"
                "; a tool's result cannot set it"
            )
        source = _source(name, declaration, where)
        allowed = [
            _check(source, schema, f"{where}: response {status}")
            for status, schema in sorted(successes.items())
            if schema is not None
        ]
        if len({bool(words) for words in allowed}) > 1:
            raise FactError(f"{where}: value is a number in one response and a word in another")
        # A word is a fact only if every successful response allows it.
        words = frozenset.intersection(*allowed)
        if allowed[0] and not words:
            raise FactError(f"{where}: no word of value is allowed by every successful response")
        sources.append(dataclasses.replace(source, words=words))
    return tuple(sources)


def read_facts(sources: Iterable[FactSource], result: Mapping[str, Any]) -> dict[str, Any]:
    """The facts a (masked) result gives: a value, or a map of ids to values. A value that is
    not there, or not what the contract declares (a number, or one of its words), or not under a
    non-empty id, is left out."""
    facts: dict[str, Any] = {}
    for source in sources:
        if source.key is None:
            value = _at(result, source.value)
            if _is_value(source, value):
                facts[source.name] = value
            continue
        items = _at(result, source.items) if source.items else [result]
        if not isinstance(items, list):
            continue
        entries: dict[str, Any] = {}
        for item in items:
            key, value = _at(item, source.key), _at(item, source.value)
            if isinstance(key, str) and key and _is_value(source, value):
                entries[key] = value
        facts[source.name] = entries
    return facts


def _source(name: str, declaration: Any, where: str) -> FactSource:
    if not isinstance(declaration, dict):
        raise FactError(f"{where}: must be a mapping with 'value' (and 'key', 'items')")
    unknown = set(declaration) - _FIELDS
    if unknown:
        raise FactError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    paths = {field: _path(declaration.get(field), f"{where}.{field}") for field in _FIELDS}
    if paths["value"] is None:
        raise FactError(f"{where}: needs 'value', the path to the number")
    if paths["items"] is not None and paths["key"] is None:
        raise FactError(f"{where}: 'items' needs 'key', the id each item's entry is kept under")
    return FactSource(name, paths["items"] or (), paths["key"], paths["value"])


def _path(raw: Any, where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or any(not part for part in raw.split(".")):
        raise FactError(f"{where}: must be a dot-separated path of property names")
    return tuple(raw.split("."))


def _check(source: FactSource, schema: dict[str, Any], where: str) -> frozenset[str]:
    """Raises FactError unless the schema types the declaration as a fact; the value's words
    (its enum) when it is a word, else an empty set."""
    item = schema
    if source.items:
        listed = _schema_at(schema, source.items, where)
        if "array" not in _types(listed) or not isinstance(listed.get("items"), dict):
            raise FactError(f"{where}: items {'.'.join(source.items)!r} is not an array")
        item = listed["items"]
    value = _schema_at(item, source.value, where)
    words = _words(value)
    if words is None and (not _types(value) or not _types(value) <= _NUMBERS):
        raise FactError(
            f"{where}: value {'.'.join(source.value)!r} must be typed integer or number, or "
            "string with an enum"
        )
    if source.key is not None:
        key = _schema_at(item, source.key, where)
        if _types(key) != {"string"} or "pattern" not in key:
            raise FactError(
                f"{where}: key {'.'.join(source.key)!r} must be a string with a pattern (an "
                "id's shape), so that no free text becomes a fact"
            )
    return words or frozenset()


def _words(schema: dict[str, Any]) -> frozenset[str] | None:
    """The words of a string schema with an enum of strings; None for any other schema."""
    enum = schema.get("enum")
    if _types(schema) != {"string"} or not isinstance(enum, list) or not enum:
        return None
    if not all(isinstance(word, str) and word for word in enum):
        return None
    return frozenset(enum)


def _schema_at(schema: dict[str, Any], path: tuple[str, ...], where: str) -> dict[str, Any]:
    node = schema
    for depth, name in enumerate(path):
        found = _property(node, name)
        if found is None:
            raise FactError(f"{where}: {'.'.join(path[: depth + 1])!r} is not in the schema")
        node = found
    return node


def _property(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    properties = schema.get("properties")
    if isinstance(properties, dict) and isinstance(properties.get(name), dict):
        found: dict[str, Any] = properties[name]
        return found
    for part in schema.get("allOf", []):
        if isinstance(part, dict) and (found_in_part := _property(part, name)) is not None:
            return found_in_part
    return None


def _types(schema: dict[str, Any]) -> set[str]:
    """The schema's types, but for null (an absent fact is simply not read)."""
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list):
        return set()
    return {t for t in names if isinstance(t, str) and t != "null"}


def _at(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _is_value(source: FactSource, value: Any) -> bool:
    if source.words:
        return isinstance(value, str) and value in source.words
    return _is_number(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
