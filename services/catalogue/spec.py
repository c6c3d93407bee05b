"""What one tool is: a backend operation, described by its OpenAPI contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MEDIA_KINDS = ("image", "video", "form", "card")

#: where an argument travels in the HTTP request
Location = Literal["path", "query", "header", "body"]


@dataclass(frozen=True)
class FactSource:
    """Where a tool's successful result gives a session fact (``x-switchboard.facts``).

    A keyed fact (``key`` set) is a map, one entry per item: ``charges`` maps each charge id to
    its cents still refundable. A fact without ``key`` is one value: ``miles_balance``. A value
    is a number, or one word of a closed list (``card_status``: ``active`` or ``expired``).
    """

    name: str
    #: path to the list of items in the result; () when the result itself is the one item
    items: tuple[str, ...]
    #: path, in an item, to the id that keys its entry; None for a one-value fact
    key: tuple[str, ...] | None
    #: path, in an item (or the result), to the number or the word
    value: tuple[str, ...]
    #: the words the value may be (its schema's ``enum``); empty when the value is a number
    words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ToolSpec:
    """One tool: an OpenAPI operation of one backend."""

    name: str
    backend: str
    method: str
    path: str
    description: str
    #: JSON Schema 2020-12 of the arguments object, every $ref resolved
    parameters: dict[str, Any]
    read_only: bool
    confirm: bool
    media: str | None
    pii_types: frozenset[str]
    #: HTTP status -> JSON Schema of the response body, for the statuses with a JSON body
    responses: dict[int, dict[str, Any]]
    #: the session facts its successful result gives, for the policy checks of later steps
    facts: tuple[FactSource, ...] = ()


@dataclass(frozen=True)
class ArgumentBinding:
    """How a tool's arguments map onto an HTTP request."""

    #: argument name -> where it goes
    #: argument name -> where it goes (a header argument's name is its header's name)
    locations: Mapping[str, Location]
    #: True when the operation takes an Idempotency-Key header, so a retry cannot act twice
    idempotent: bool

    def of(self, location: Location) -> list[str]:
        """The argument names that travel in ``location``, in declaration order."""
        return [name for name, where in self.locations.items() if where == location]
