"""Public reference data in a tool's result: values the contract says hold no personal data.

A result is masked before the model sees it (pii.RedactData), value by value. Some results are
reference data that belong to no customer: a flight's schedule, a dental office's name, city and
phone, a knowledge article. Masking them helps nobody and hurts the reply: the detector cannot
tell "Austin" the city or "Bright Smile Dental" the practice from a person when it sees the value
alone, and the customer would be told to call ``<PHONE_1>``.

A response schema marks such data with ``x-switchboard-public: true`` on any schema node (an
object, an array, a property); every string under that node is public::

    Provider:
      type: object
      x-switchboard-public: true
      properties: {name: {type: string}, phone: {type: string}, ...}

A string the schema enumerates (``enum`` or ``const``: "confirmed", "preventive") is public
without a mark: it is one of the words the contract itself lists, not data about anyone. Alone,
such a value is the hardest for the detector ("preventive" was once read as a name).

Only ``properties``, ``additionalProperties`` and ``items`` are followed to find the marks: a value
reached through ``allOf``/``anyOf``/``oneOf`` or a schema the walk cannot place stays private,
so a mistake in the contract can only leave data masked, never unmask it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

PUBLIC = "x-switchboard-public"

#: a value's place in a JSON document: object keys and array indexes from the root
JsonPath = tuple[str | int, ...]


class PublicMarkError(ValueError):
    """An ``x-switchboard-public`` mark that is not ``true`` or ``false``."""


def check_marks(schema: Any, where: str) -> None:
    """Refuse a mark that is not a boolean (``"yes"`` would be read as a mistake, not as true)."""
    for path, node in _schemas(schema, ()):
        if PUBLIC in node and not isinstance(node[PUBLIC], bool):
            place = "/".join(path) or "(root)"
            raise PublicMarkError(
                f"{where}: {PUBLIC} at {place} must be true or false, got {node[PUBLIC]!r}"
            )


def has_marks(schema: Any) -> bool:
    """Whether any node of ``schema`` is marked public."""
    return any(node.get(PUBLIC) is True for _, node in _schemas(schema, ()))


def public_strings(schema: Mapping[str, Any] | None, value: Any) -> list[JsonPath]:
    """The paths of the strings of ``value`` that ``schema`` marks public, in document order."""
    if schema is None:
        return []
    return list(_public(schema, value, ()))


def _public(schema: Mapping[str, Any], value: Any, path: JsonPath) -> Iterator[JsonPath]:
    if schema.get(PUBLIC) is True:
        yield from _strings(value, path)
        return
    if isinstance(value, str):
        if _enumerated(schema, value):
            yield path
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key) if isinstance(properties, Mapping) else None
            if child is None and isinstance(extra, Mapping):
                child = extra
            if isinstance(child, Mapping):
                yield from _public(child, item, (*path, key))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                yield from _public(items, item, (*path, index))


def _enumerated(schema: Mapping[str, Any], value: str) -> bool:
    """Whether the schema lists ``value`` among the only values it allows."""
    if "const" in schema:
        return bool(schema["const"] == value)
    allowed = schema.get("enum")
    return isinstance(allowed, Sequence) and not isinstance(allowed, str) and value in allowed


def _strings(value: Any, path: JsonPath) -> Iterator[JsonPath]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _schemas(
    schema: Any, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """Every schema node under ``schema``, with where it is."""
    if not isinstance(schema, Mapping):
        return
    yield path, schema
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for key, child in properties.items():
            yield from _schemas(child, (*path, "properties", str(key)))
    for keyword in ("additionalProperties", "items"):
        yield from _schemas(schema.get(keyword), (*path, keyword))
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, Sequence) and not isinstance(branches, str):
            for index, child in enumerate(branches):
                yield from _schemas(child, (*path, keyword, str(index)))


def get(document: Any, path: JsonPath) -> Any:
    """The value at ``path`` of ``document``."""
    for step in path:
        document = document[step]
    return document


def put(document: Any, path: JsonPath, value: Any) -> None:
    """Set the value at ``path`` (which must not be the root) of ``document``."""
    *parents, last = path
    get(document, tuple(parents))[last] = value
