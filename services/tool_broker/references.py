"""References from one step's arguments to earlier steps' results.

Syntax: ``${steps.<id>.<path>}`` where ``<id>`` is a step id of the same plan and ``<path>`` is a
dot-separated path into that step's (masked) result; a segment that is a whole number indexes a
list, and the segment ``only`` takes a list's single item (a list of any other length leaves the
reference unresolved: "the customer's reservation" must not silently become the first of several).
Examples, against the result ``{"flights": [{"flight_number": "UA456"}]}`` of step ``alts``:

- ``"${steps.alts.flights.0.flight_number}"`` — a string value that is exactly one reference
  becomes the referenced value, whatever its JSON type ("UA456"; an object stays an object).
- ``"Rebooked onto ${steps.alts.flights.0.flight_number}"`` — references inside a longer string are
  replaced by the value's text; only strings, numbers and booleans can be interpolated like this.
- ``"${steps.alts.flights.only.flight_number}"`` — "UA456" because there is exactly one flight;
  with none or several the step is not run.

A segment can also narrow a list to some of its items, keeping their order (a list of objects;
an item that is not an object, or lacks the field, is dropped, but for ``!=``):

- ``<field>=<value>`` — the items whose field is the value, written as text (a number as
  ``27400``, a boolean as ``true``): ``charges.status=succeeded``;
- ``<field>!=<value>`` — the items whose field is anything else: ``charges.status!=refunded``;
- ``repeated:<field>`` — the items whose field another item has too: of the charges
  ``[A 274.00, B 274.00, C 30.00]``, ``charges.repeated:amount_cents`` is ``[A, B]``.

A last segment ``day:<when>`` takes a date (``YYYY-MM-DD``, or a date-time, whose date is taken)
to the day a customer named: ``<when>`` empty keeps it, an ISO date replaces it, and ``+N`` or
``-N`` moves it N days. So ``${steps.trip.segments.0.date.day:+1}`` is the day after the trip's
and ``${steps.trip.segments.0.date.day:${slots.travel_date}}`` is the trip's own date while the
slot is empty ("what about the day after?" fills it with ``+1``). Anything else there leaves the
reference unresolved.

What follows applies to the narrowed list: ``charges.status=succeeded.repeated:amount_cents.0``
is the first (in a list newest first, the later) of two successful charges of the same amount,
and a reference whose narrowed list is empty is unresolved like any path that is not there.

A step's result is its backend's JSON body; a body that is not an object is wrapped as
``{"items": [...]}`` (an array) or ``{"value": ...}`` (anything else). A reference makes the
referring step depend on the referenced one, whether or not ``depends_on`` says so. References are
resolved in argument values only (at any depth), never in keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

#: the path segment that takes a list's single item
ONLY = "only"
#: the path segment that keeps a list's items whose field another item has too
REPEATED = "repeated:"
#: the last path segment that moves a date to the day a customer named
DAY = "day:"
#: what ``day:`` takes besides a date: days later (``+1``) or earlier (``-2``)
DAY_OFFSET = re.compile(r"[+-][0-9]{1,3}")
REFERENCE = re.compile(r"\$\{steps\.([A-Za-z0-9_-]+)((?:\.[^.{}\s]+)*)\}")


class UnresolvedReference(Exception):
    """A reference cannot be resolved; the message says which and why."""


def referenced_steps(arguments: Any) -> set[str]:
    """The ids of the steps the arguments refer to."""
    found: set[str] = set()
    for text in _strings(arguments):
        found.update(match.group(1) for match in REFERENCE.finditer(text))
    return found


def resolve(arguments: Any, results: Mapping[str, Mapping[str, Any]]) -> Any:
    """The arguments with every reference replaced by the value it names."""
    if isinstance(arguments, dict):
        return {key: resolve(value, results) for key, value in arguments.items()}
    if isinstance(arguments, list):
        return [resolve(value, results) for value in arguments]
    if not isinstance(arguments, str) or "${" not in arguments:
        return arguments
    whole = REFERENCE.fullmatch(arguments)
    if whole:
        return _lookup(whole, results)

    def interpolate(match: re.Match[str]) -> str:
        value = _lookup(match, results)
        if isinstance(value, str):
            return value
        if isinstance(value, bool | int | float):
            return json.dumps(value)  # true/false, and numbers as JSON writes them
        raise UnresolvedReference(
            f"{match.group(0)} is {_kind(value)}; only a string, number or boolean can be "
            "placed inside a longer string"
        )

    return REFERENCE.sub(interpolate, arguments)


def _lookup(match: re.Match[str], results: Mapping[str, Mapping[str, Any]]) -> Any:
    step_id, path = match.group(1), match.group(2)
    if step_id not in results:
        raise UnresolvedReference(
            f"{match.group(0)} refers to step {step_id!r}, which has no result"
        )
    return walk(
        results[step_id], path.split(".")[1:], reference=match.group(0), walked=f"steps.{step_id}"
    )


def walk(
    value: Any, segments: Sequence[str], *, reference: str = "", walked: str = "the result"
) -> Any:
    """The value at ``segments`` of a reference's path into ``value`` (a step's result), by the
    rules of the module's docstring; :class:`UnresolvedReference` where there is none.
    The planner's flows use it too, to tell where a lookup will resolve."""
    for segment in segments:
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        elif isinstance(value, list) and segment == ONLY and len(value) == 1:
            value = value[0]
        elif isinstance(value, list) and segment == ONLY:
            raise UnresolvedReference(f"{reference}: {walked} is {_kind(value)}, not exactly one")
        elif isinstance(value, list) and (narrowed := _narrow(value, segment)) is not None:
            value = narrowed
        elif isinstance(value, str) and segment.startswith(DAY):
            value = _moved(value, segment[len(DAY) :], f"{reference}: {walked}")
        else:
            raise UnresolvedReference(f"{reference}: {walked} ({_kind(value)}) has no {segment!r}")
        walked += f".{segment}"
    return value


def _moved(value: str, when: str, where: str) -> str:
    """The date ``value`` taken to the day ``when`` names (see the module's docstring)."""
    try:
        start = date.fromisoformat(value[:10])
        if len(value) > 10 and value[10] != "T":
            raise ValueError
    except ValueError:
        raise UnresolvedReference(f"{where} is {value!r}, not a date") from None
    if not when:
        return start.isoformat()
    if DAY_OFFSET.fullmatch(when):
        return (start + timedelta(days=int(when))).isoformat()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", when):
        try:
            return date.fromisoformat(when).isoformat()
        except ValueError:
            pass
    raise UnresolvedReference(f"{where}.{DAY}{when}: {when!r} names no day (a date, +N or -N)")


def _narrow(items: list[Any], segment: str) -> list[Any] | None:
    """The items a filter segment keeps, or None when the segment is no filter."""
    objects = [item for item in items if isinstance(item, dict)]
    if segment.startswith(REPEATED) and len(segment) > len(REPEATED):
        field = segment[len(REPEATED) :]
        seen: dict[str, int] = {}
        for item in objects:
            if field in item:
                seen[_text(item[field])] = seen.get(_text(item[field]), 0) + 1
        return [i for i in objects if field in i and seen[_text(i[field])] > 1]
    field, equals, wanted = segment.partition("=")
    negated = field.endswith("!")
    field = field.removesuffix("!")
    if not equals or not field:
        return None
    if negated:
        return [i for i in objects if field not in i or _text(i[field]) != wanted]
    return [i for i in objects if field in i and _text(i[field]) == wanted]


def _text(value: Any) -> str:
    """A field's value as a filter compares it: numbers as JSON writes integers (results cross
    protobuf Structs, where every number is a double), booleans and null as JSON does."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, sort_keys=True)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
