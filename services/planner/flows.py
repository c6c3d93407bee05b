"""Deterministic flows (``packs/flows/<industry>.yaml``): intent -> slots -> steps -> replies.

A flow file::

    industry: airline
    flows:
      flight_status:                       # the intent it serves
        description: Live status of one flight.
        leads: false                       # true: its reply comes first in a multi-intent turn
        slots:
          flight_number:
            patterns: ['\\b([A-Z]{2})\\s?(\\d{1,4})\\b']   # over the masked text; groups joined
            transform: upper               # upper | lower | none
            question: Which flight is it? For example "UA 123".
          customer_id: {from: customer_id}  # from the request, never asked for
          member: {from: caller, patterns: ['M-[0-9]{4,8}'], required: false}  # who asks, only
          provider_id: {from: customer_id, question: ..., required: not slots.member}
          date: {patterns: [...], required: false}
          pnr:
            patterns: [...]
            answer_patterns: ['^\\W*([A-Z]{6})\\W*$']  # only while the flow waits for the slot
            question: What is the reservation code?
            lookup: '${steps.trips.reservations.only.pnr}'
            shown: {flight: segments.0.flight_number, date: segments.0.date}  # of each item listed
            ask_again: 'Which one is it: {{ choices.pnr | map(attribute="value") | join(" or ") }}?'
          new_flight: {lookup: '${steps.alternatives.flights.only.flight_number}', offer: always}
          seat_kind: {patterns: [...], required: false, remember: until_answered}
        steps:
          - id: status
            tool: getFlightStatus          # an operationId of mocks/<backend>/openapi.yaml
            arguments: {flight_number: '${slots.flight_number}', date: '${slots.date}'}
            depends_on: []
        replies:                           # the first whose `when` holds is used
          - when: steps.status.ok and steps.status.result.status == 'cancelled'
            text: Flight {{ steps.status.result.flight_number }} is cancelled ...
          - text: I couldn't reach the booking system ...
        media:
          - {step: status, kind: card, title: 'Flight {{ steps.status.result.flight_number }}'}
    places: {DEN: [Denver], JFK: [New York, NYC]}   # names of the codes replies show

Arguments take ``${slots.<name>}``, ``${customer_id}`` and ``${text}`` (the customer's words: the
masked text without its placeholders, cut to the parameter's ``maxLength``) at plan time (an
argument whose whole value is an absent optional slot, or ``${text}`` with no words, is left out)
and ``${steps.<id>.<path>}`` at execution time. A slot ``from: caller`` is the request's customer
reference when it has the slot's shape and never anything read from the text; ``required`` may be
a Jinja condition over ``slots`` (required while it holds). A ``question`` may name slots already
known as replies do (``{{ slots.procedure_words }}``): it is asked so only when each holds the
customer's words (no placeholder), else its ``plain_question`` is.
A slot with a ``lookup`` (one step reference) that the customer did not give is looked up instead
of asked for, whenever the lookup step is planned (its ``when`` holds): its arguments then carry the
reference, and the broker resolves it. With ``.only.`` in the path the value is used only when it is
unambiguous; otherwise the steps needing it do not run and the reply asks, from the lookup's result:
the slot is then still missing (:meth:`Flow.still_missing`) and the flow waits for it, as for a slot
asked for before planning. ``answer_patterns`` are tried only while the flow waits for their slot
(the turn answers its question), for a shape too loose to read from any message. When such a lookup
found several items, the values it offered are kept for one turn as ``<slot>_options`` (in the
result's order, the order the reply lists them in), with the facts the slot's ``shown`` paths read
of each as ``<slot>_shown``; the answer may name one by its position ("the second one", "#2", a
bare "2") or by what the list showed ("the December one", "the one to Denver"): see
:mod:`services.planner.choices`. A slot with ``offer: always`` (an action: the flight to rebook
onto) is never filled by its lookup, even from a list of one: the items are offered and kept, and
with a single one an assent ("yes", "that one", "book it") names it. An answer that fits none or
several is asked again (``ask_again``).
A reply's ``asks`` (slot -> a lookup reference with ``only``, or "") has the flow wait again for
slots the turn gave (the flight named cannot be booked), keeping the list the reply showed as the
slot's choices; its ``keeps`` (slot -> a Jinja expression) gives optional slots a value for the
answer while the flow waits (the day the listed flights are on): :meth:`Flow.waiting`. A slot
required on a condition is waited for while the condition holds: a reply may ask for one that
its ``keeps`` make required ("tell me what it looks like and I'll add it to the case", the case
kept).
A slot's ``not_after`` passes over a match its words come right after, and reads on: in "my flight
tomorrow was cancelled, anything Friday?" the first day names the trip, the second the one asked.
A slot with ``remember: until_answered`` is, like ``remember: false``, read from this turn's text
only, except on the turn that answers the question its flow asked: that turn keeps the value the
asking turn gave ("a window seat" -> "which one?" -> "the second one" still wants a window seat).
Those slots are what one request is about: while it waits for nothing but the customer's yes (a
change held for confirmation), a message giving one of them another value and saying nothing else
("actually, make it 75") answers it too (:meth:`Flow.amended`): it is planned afresh with the new
value, and asked about again.
Reply and media templates are Jinja (sandboxed) and see only ``slots``, ``customer_id``, ``text``,
``choices`` (per slot a lookup left open, the items listed: ``value`` and the facts ``shown``)
and ``steps.<id>`` = ``{ok, outcome, result, tool, http_status, refusal}``: replies are grounded in
step results and say in their own words what a failure means (by ``outcome`` and ``http_status``);
a step's error text (a backend's problem detail, a policy or reference diagnostic) is for the audit
trail, never for the customer, and a template naming it is refused at load. ``refusal`` is the
customer-facing message of the policy that refused the step ("" otherwise), for the reply to say
why in the policy's own words; a flow's last reply (the one without a ``when``, which speaks of a
system that could not be reached) gives way to the first refusal. Media show only for steps that
succeeded, while their ``when`` holds.
Filters: ``clock`` (RFC 3339 -> 07:05), ``day`` (-> Wed 25 Nov), ``money(currency)`` (cents ->
12.50 USD), ``words`` (on_time -> on time).
Everything is checked at load; a mistake stops the start with the file and flow named.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import ChainableUndefined, StrictUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.catalogue.catalogue import PLACEHOLDER
from services.planner.choices import CLOCKS, DATE, Shown, choose, place_names
from services.planner.dates import counted_from, named_day
from services.planner.plans import (
    STEP_ID,
    STEP_REFERENCE,
    Offer,
    Step,
    StepResult,
    plan_errors,
    references,
    with_reference_dependencies,
)
from services.planner.tools import ToolIndex
from services.runtime.errors import ConfigError
from services.tool_broker.references import ONLY, UnresolvedReference, walk

log = logging.getLogger(__name__)

#: the session slot holding the values a reply listed for slot ``<name>``: ``<name>_options``
OPTIONS_SUFFIX = "_options"
#: the session slot holding what that reply showed of each value: ``<name>_shown``
SHOWN_SUFFIX = "_shown"
#: the session slots a reply's list leaves for its answer, by suffix
LISTED_SUFFIXES = (OPTIONS_SUFFIX, SHOWN_SUFFIX)
#: ``remember`` of a slot kept for the turn that answers its flow's question, and only for it
UNTIL_ANSWERED = "until_answered"

# ``<slot>_shown``: per value listed, "kind=value" facts, values apart by "; " in the list's order
# ("flight=UA457 date=2026-11-25 origin=ORD destination=SFO; flight=UA1658 ...").
_SHOWN_ITEMS, _SHOWN_FACT = "; ", "="
_SHOWN_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_SHOWN_VALUE = re.compile(r"^[^\s=;]+$")

#: an argument's reference to the customer's words: this turn's masked text without its
#: placeholders (no personal data, not even the broker's restored values), e.g. a search query
TEXT_REFERENCE = "${text}"
_SLOT_REFERENCE = re.compile(r"\$\{(slots\.([A-Za-z0-9_]+)|customer_id|text)\}")
_WHOLE_SLOT = re.compile(r"^\$\{slots\.([A-Za-z0-9_]+)\}$")

# Reply templates are written by conversation designers: sandboxed, and chained attribute access on
# a missing field gives "" instead of an error (a backend may omit an optional field).
_ENV = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)

_STRICT_ENV = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _clock_filter(value: Any) -> str:
    """An RFC 3339 time as "07:05" (UTC), or the value unchanged."""
    moment = _parse_time(value)
    return moment.strftime("%H:%M") if moment else str(value or "")


def _departs_filter(value: Any, local: Any = None) -> str:
    """A time as "21:10 UTC", or led by the place's own clock when there is one, as a traveller
    reads it: "15:10 local time (21:10 UTC)". Either may be an RFC 3339 time or a clock already.
    Where the two fall on different days (an evening in Phoenix is the next morning in UTC), the
    UTC time names its day: "18:10 local time (01:10 UTC on Tue 8 Dec)"."""
    utc = f"{_clock_filter(value)} UTC"
    if not local:
        return utc
    moment, here = _parse_time(str(value)), _parse_time(str(local))
    if moment and here and moment.date() != here.date():
        utc = f"{utc} on {_day_filter(value)}"
    return f"{_clock_filter(local)} local time ({utc})"


def _day_filter(value: Any) -> str:
    """A date or date-time as "Wed 25 Nov", or the value unchanged."""
    moment = _parse_time(value if "T" in str(value) else f"{value}T00:00:00")
    return moment.strftime("%a %d %b").replace(" 0", " ") if moment else str(value or "")


def _money_filter(cents: Any, currency: Any = "") -> str:
    """Integer cents as "12.50 USD"."""
    if not isinstance(cents, int):
        return str(cents or "")
    amount = f"{cents // 100:,}.{cents % 100:02d}"
    return f"{amount} {currency}".strip()


def _words_filter(value: Any) -> str:
    """An enum value as words: "on_time" -> "on time"."""
    return str(value or "").replace("_", " ")


for _env in (_ENV, _STRICT_ENV):
    _env.filters.update(
        clock=_clock_filter,
        departs=_departs_filter,
        day=_day_filter,
        money=_money_filter,
        words=_words_filter,
    )


class SlotSpec(BaseModel):
    """How one slot is filled."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: Literal["text", "customer_id", "caller"] = Field(
        default="text",
        alias="from",
        description="text: read from the message; customer_id: the request's customer reference "
        "when it has the slot's shape, else read from the message; caller: the request's customer "
        "reference when it has the slot's shape, never the message (who is asking, not whom they "
        "ask about; never asked for, never remembered)",
    )
    patterns: list[str] = Field(default_factory=list)
    transform: Literal["upper", "lower", "time", "cents", "date", "none"] = "none"
    synonyms: dict[str, str] = Field(
        default_factory=dict, description="a matched value (any case) -> the value to use"
    )
    type: Literal["string", "integer"] = Field(
        default="string", description="the JSON type an argument that is just this slot gets"
    )
    question: str = Field(
        default="",
        description="what the customer is asked while the slot is missing: a template that may "
        "name slots already known, as replies do ({{ slots.procedure_words }}); asked as written "
        "only when every slot it names holds the customer's words, else `plain_question`",
    )
    plain_question: str = Field(
        default="",
        description="for a question that names slots: the question asked while one of them is "
        "unknown or holds a placeholder of personal data; it names none",
    )
    required: bool | str = Field(
        default=True,
        description="false: optional, never asked for; or a Jinja condition over `slots` "
        "(`not slots.member`): required while it holds",
    )
    remember: bool | Literal["until_answered"] = Field(
        default=True,
        description="false: only this turn's text fills it (a slot that triggers an action must "
        "never be replayed from an earlier turn); until_answered: the same, but the turn that "
        "answers the question the flow asked keeps what the asking turn gave (a preference such "
        "as a window seat, never an action)",
    )
    remind: bool = Field(
        default=True,
        description="false for a question that only invites more (what a lost item looks like, "
        "for the case already opened): a question of another request moves on from it, where "
        "any other is asked again after that request's answer",
    )
    lookup: str | None = Field(
        default=None,
        description="a step reference ${steps.<id>.<path>} that finds the value when the customer "
        "does not give it; the slot is asked for only when step <id> is not planned",
    )
    answer_patterns: list[str] = Field(
        default_factory=list,
        description="patterns also tried while the flow waits for this slot (the message answers "
        "its question): shapes too loose to read from any message, such as a bare code",
    )
    shown: dict[str, str] = Field(
        default_factory=dict,
        description="for a lookup with `only`: what a reply listing its items shows of each, as "
        "paths into the item by fact kind (date: an ISO date; origin, destination: place codes; "
        "any other kind: a word shown as it is). Kept with the values for an answer by what the "
        "list showed ('the December one')",
    )
    offer: Literal["several", "always"] = Field(
        default="several",
        description="for a lookup with `only`: several (default): a list of one fills the slot; "
        "always: the lookup never fills it, even one item is offered and kept for the answer "
        "('yes', 'that one' name a single one). For a slot that triggers an action",
    )
    refines: bool = Field(
        default=False,
        description="a value for this slot answers the flow while it waits, as the slot it waits "
        "for would: the customer changes what the flow looks up rather than choose from what it "
        "listed ('what about the day after?' while flights of the trip's day are listed). The "
        "listed choices give way to the new lookup's. For an optional slot",
    )
    ask_again: str = Field(
        default="",
        description="a template asked instead of `question` when the answer to a listed choice "
        "names none or several of them; it sees `choices` (per slot, the items listed: `value` "
        "and the facts `shown`), `fits` (the values the answer fits), `slots` and `text` (the "
        "answer; empty when the question is asked again after a question of another request, "
        "no answer given)",
    )

    not_after: str = Field(
        default="",
        description="a regular expression: a match of `patterns` whose preceding words end with it "
        'is passed over, and the text searched on (a day right after "my flight" names the trip '
        "itself, not another day)",
    )

    @field_validator("patterns", "answer_patterns", "not_after")
    @classmethod
    def _compile(cls, patterns: list[str] | str) -> list[str] | str:
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(
                    f"pattern {pattern!r} is not a regular expression: {error}"
                ) from error
        return patterns


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: str | None = Field(
        default=None, description="a Jinja expression over slots and customer_id; false: skip"
    )
    id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    description: str = ""


class ReplySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: str | None = None
    text: str
    asks: dict[str, str] = Field(
        default_factory=dict,
        description="the slots this reply asks for: again, though the turn gave them (the "
        "flight named cannot be booked), or one required on a condition its `keeps` make hold "
        "(what a lost item looks like, for the case just opened): after it the flow waits for "
        "them. Each maps to a lookup reference with `only` over the list the reply shows (its "
        "items are kept as the slot's choices, so an answer may name one by place or by what "
        "was shown), or to ''",
    )
    keeps: dict[str, str] = Field(
        default_factory=dict,
        description="while the flow waits after this reply, slot values for the answer: per "
        "slot a Jinja expression over what replies see (the day the listed flights are on, so "
        "that 'the day after' counts from it); an empty value keeps nothing",
    )


class MediaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    when: str | None = Field(
        default=None, description="a Jinja condition over what replies see; false: not shown"
    )
    step: str
    kind: Literal["image", "video", "form", "card"]
    title: str = ""
    uri: str = ""
    alt_text: str = ""
    fields: list[str] | None = None


class FlowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    leads: bool = Field(
        default=False,
        description="true for a safety flow (responsible gaming): when one message raises several "
        "requests, its reply comes first",
    )
    aside: bool = Field(
        default=False,
        description="true for a request beside the conversation's thread (a complaint, thanks): "
        "serving it leaves what waits for the customer's answer as it was",
    )
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(default_factory=list)
    replies: list[ReplySpec] = Field(min_length=1)
    media: list[MediaSpec] = Field(default_factory=list)
    asked_in_refusals: list[str] = Field(
        default_factory=list,
        description="policy rules (pack/rule) whose refusal asks for what this flow's questions "
        "ask: when one refused another request of the same message, the refusal's words ask it "
        "and the flow's question is left out of the reply (the flow still waits for the answer)",
    )
    confirm: str | None = Field(
        default=None,
        description="what the steps a policy holds for the customer's confirmation will do, as "
        'a phrase after "I\'m about to" (a template over what replies see); without it the '
        "steps' descriptions are listed",
    )


class FlowFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    industry: str
    version: int = 1
    flows: dict[str, FlowSpec]
    places: dict[str, list[str]] = Field(
        default_factory=dict,
        description="the names customers use for the place codes the replies show (DEN: "
        "[Denver]): an answer by what a list showed may name a place either way",
    )


@dataclass(frozen=True)
class Media:
    """A rich media element to show beside the reply."""

    kind: str
    title: str
    data: dict[str, Any]
    uri: str = ""
    alt_text: str = ""
    step_id: str = ""


@dataclass(frozen=True)
class Flow:
    """A validated flow, ready to fill slots, plan and reply."""

    name: str
    industry: str
    spec: FlowSpec
    _patterns: dict[str, list[re.Pattern[str]]] = field(repr=False)
    _synonyms: dict[str, dict[str, str]] = field(repr=False)
    #: per slot, the patterns tried only on an answer to its question
    _answer_patterns: dict[str, list[re.Pattern[str]]] = field(repr=False)
    #: the words of the file's place names (and codes) -> the code
    _places: Mapping[tuple[str, ...], str] = field(default_factory=dict, repr=False)
    #: (step id, argument) -> the most characters the argument may have, for an argument that
    #: quotes the customer's words (``${text}``) and whose contract bounds its length
    _text_limits: Mapping[tuple[str, str], int] = field(default_factory=dict, repr=False)
    #: per slot with ``not_after``: the words that, right before a match, pass it over
    _not_after: Mapping[str, re.Pattern[str]] = field(default_factory=dict, repr=False)

    def systems(self, tools: ToolIndex) -> int:
        """How many backends the flow's steps touch."""
        return len({t.backend for s in self.spec.steps if (t := tools.get(s.tool)) is not None})

    def has_dependencies(self) -> bool:
        """Whether a step waits for another (by depends_on or by a reference to its result)."""
        return any(
            s.depends_on or any(True for _ in references(s.arguments)) for s in self.spec.steps
        )

    def required_slots(self, known: Mapping[str, str] | None = None) -> list[str]:
        """The required slots. A slot whose ``required`` is a condition counts when it holds over
        the ``known`` slots; without them, whenever it may be required."""
        return [
            name
            for name, slot in self.spec.slots.items()
            if slot.required is True
            or (
                isinstance(slot.required, str)
                and (known is None or _truthy(slot.required, {"slots": dict(known)}))
            )
        ]

    def extract(
        self,
        text: str,
        customer_id: str = "",
        asked: Collection[str] = (),
        listed: Mapping[str, list[Shown]] | None = None,
    ) -> dict[str, str]:
        """The slot values found in the (masked) text and the request.

        ``asked`` are the slots the flow waits for (it is pending on them): their
        ``answer_patterns`` are tried too, and where the last reply ``listed`` choices for one, an
        answer naming exactly one of them (by position or by what the list showed) picks its value.
        """
        listed = listed or {}
        found: dict[str, str] = {}
        for name, slot in self.spec.slots.items():
            patterns = self._patterns[name]
            # The request's reference fills the slot when it has the slot's shape (a dental
            # office calls with its provider id, a customer with a customer id).
            fits = bool(customer_id) and (
                not patterns or any(p.fullmatch(customer_id) for p in patterns)
            )
            if slot.source == "caller":
                # Who is asking, and only that: never a reference read from the message.
                if fits:
                    found[name] = customer_id
                continue
            if slot.source == "customer_id" and fits:
                found[name] = customer_id
                continue
            if name in asked:
                patterns = [*patterns, *self._answer_patterns[name]]
            for pattern in patterns:
                match = self._search(name, pattern, text)
                if match is None:
                    continue
                value = self._value(name, match)
                if value:
                    found[name] = value
                    break
            if name in asked and name not in found and name in listed:
                choice = choose(text, listed[name], self._places)
                if choice is not None and choice.index is not None:
                    found[name] = listed[name][choice.index].value
        return found

    def fill(
        self,
        known: Mapping[str, str],
        text: str,
        customer_id: str,
        asked: Collection[str] = (),
        *,
        answered: bool = False,
    ) -> dict[str, str]:
        """Every known slot, updated with what this turn says (this turn's values win).

        Slots of other flows are kept, so the session remembers them for later turns; this flow's
        slots that are not remembered (:meth:`forgotten`) come from this turn's text only. When
        the turn ``answered`` the question the flow asked (:meth:`answers`, while it is pending),
        its ``until_answered`` slots keep what the asking turn gave.
        """
        forget = self.forgotten(answered=answered)
        slots = {k: v for k, v in known.items() if v and k not in forget}
        found = self.extract(text, customer_id, asked, self.choices(known))
        for name, value in found.items():
            if self.spec.slots[name].transform == "date" and slots.get(name):
                # "And the day after that?" counts from the day asked about last.
                found[name] = counted_from(slots[name], value)
        slots.update(found)
        return slots

    def forgotten(self, *, answered: bool = False) -> set[str]:
        """The slots only this turn fills: ``remember: false``, ``until_answered`` unless the turn
        answers the question the flow asked, and the caller (``from: caller``, this request's)."""
        return {
            name
            for name, slot in self.spec.slots.items()
            if slot.remember is False
            or (slot.remember == UNTIL_ANSWERED and not answered)
            or slot.source == "caller"
        }

    def subject(self) -> set[str]:
        """The ``remember: until_answered`` slots: what one request is about (the treatment
        checked), kept for the turn that answers its question and for a follow-up that changes
        none of them ("and for next Monday?")."""
        return {name for name, slot in self.spec.slots.items() if slot.remember == UNTIL_ANSWERED}

    def choices(self, known: Mapping[str, str]) -> dict[str, list[Shown]]:
        """Per looked-up slot, the choices the last reply listed for it: the values kept as
        ``<slot>_options``, with the facts shown of each (``<slot>_shown``) when they were kept."""
        found: dict[str, list[Shown]] = {}
        for name, slot in self.spec.slots.items():
            values = known.get(name + OPTIONS_SUFFIX, "").split() if slot.lookup else []
            if not values:
                continue
            shown = [_parse_facts(item) for item in known.get(name + SHOWN_SUFFIX, "").split(";")]
            if len(shown) != len(values):
                shown = [{} for _ in values]  # none kept (or not for each): positions only
            found[name] = [Shown(v, facts) for v, facts in zip(values, shown, strict=True)]
        return found

    def undecided(self, known: Mapping[str, str], text: str) -> list[str]:
        """The awaited slots whose listed choices the text answers without naming exactly one:
        a position past the list ("the third one" of two), words that fit none or several of
        them, or that cannot be read ("the blue one"). Asked again, never guessed."""
        listed = self.choices(known)
        if self._refined(text):
            return []  # another list is asked for: nothing of this one is chosen
        return [
            name
            for name in self.awaited(known)
            if name in listed
            and (choice := choose(text, listed[name], self._places)) is not None
            and choice.again
        ]

    def awaited(self, known: Mapping[str, str]) -> list[str]:
        """The required slots not known: what the flow waits for while it is pending.

        A looked-up slot counts: the flow is pending on it only because its lookup left it open.
        """
        return [name for name in self.required_slots(known) if not known.get(name)]

    def details(self, text: str) -> dict[str, str]:
        """The slot values the message's own words give (not who asks)."""
        return self.extract(text)

    def answers(self, known: Mapping[str, str], text: str, customer_id: str) -> bool:
        """Whether the text fills a slot the flow waits for (answers the question it asked), gives
        a slot that ``refines`` it a value ("what about the day after?"), or answers a choice the
        last reply listed without naming one (it is asked again). What the channel fills (the
        caller's customer number) answers nothing: only the message's own words do."""
        awaited = self.awaited(known)
        found = self.extract(text, "", awaited, self.choices(known))
        return (
            any(name in awaited for name in found)
            or self._refined(text)
            or bool(self.undecided(known, text))
            or bool(self.amended(known, text, customer_id))
        )

    def amended(self, known: Mapping[str, str], text: str, customer_id: str = "") -> list[str]:
        """The slots of the request (its ``until_answered`` ones) that the message gives another
        value, saying nothing else: "actually, make it 75" or "no, 75 dollars" while a withdrawal
        of 50 waits for a yes. The request is then planned afresh with the new value, and asked
        about again; a value the request already has ("yes, 50 is fine") changes nothing. Only a
        request that waits for nothing but a yes is amended so: while the flow waits for a slot,
        the message is read as the answer to its question."""
        changed: list[str] = []
        spans: list[tuple[int, int]] = []
        for name in self.subject():
            slot = self.spec.slots[name]
            if slot.source != "text":
                continue
            for pattern in [*self._patterns[name], *self._answer_patterns[name]]:
                match = self._search(name, pattern, text)
                if match is None:
                    continue
                value = self._value(name, match)
                if value and value != known.get(name, ""):
                    changed.append(name)
                    spans.append(match.span())
                break
        if not changed:
            return []
        rest = text
        for start, end in sorted(spans, reverse=True):
            rest = rest[:start] + " " + rest[end:]
        words = _REFINING_WORD.findall(rest.casefold().replace("’", "'"))
        if not all(word in _AMENDING_WORDS for word in words):
            return []
        # Last, as the dearest check (it plans the flow's lookups): most messages stop above.
        return [] if self.missing(known, customer_id) else changed

    def _refined(self, text: str) -> bool:
        """Whether the message asks for a slot that ``refines`` the flow's lookup, and for nothing
        else: besides the value, only words that ask for another one ("what about the day
        after?", "anything on Friday instead?"). "What's the weather in Denver today?" names a
        day, but asks about something else."""
        for name, slot in self.spec.slots.items():
            if not slot.refines:
                continue
            for pattern in self._patterns[name]:
                match = self._search(name, pattern, text)
                if match is None or not _transform(match, slot.transform):
                    continue
                # "Friday's flights": the possessive belongs to the day.
                after = re.sub(r"^['’]s\b", "", text[match.end() :])
                rest = text[: match.start()] + " " + after
                words = _REFINING_WORD.findall(rest.casefold().replace("’", "'"))
                return all(word in _ASKING_WORDS for word in words)
        return False

    def _value(self, name: str, match: re.Match[str]) -> str:
        """What a match of one of the slot's patterns gives it: transformed, then its synonym's."""
        value = _transform(match, self.spec.slots[name].transform)
        return self._synonyms[name].get(value.casefold(), value)

    def _search(self, name: str, pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
        """The first match of one of the slot's patterns that its ``not_after`` does not pass
        over."""
        before = self._not_after.get(name)
        for match in pattern.finditer(text):
            if before is None or not _ends_with(before, text[: match.start()]):
                return match
        return None

    def missing(self, slots: Mapping[str, str], customer_id: str = "") -> list[str]:
        """The required slots neither known nor looked up by a step of this turn's plan."""
        unknown = self.awaited(slots)
        if not any(self.spec.slots[name].lookup for name in unknown):
            return unknown
        looked_up = self._lookups(slots, self._planned(slots, customer_id))
        return [name for name in unknown if name not in looked_up]

    def questions(
        self, missing: list[str], slots: Mapping[str, str] | None = None, text: str = ""
    ) -> str:
        """The questions for the missing slots. A slot whose listed choices are still kept in
        ``slots`` (the answer named none or several of them) is asked its ``ask_again``."""
        slots = slots or {}
        listed = self.choices(slots)
        asked: list[str] = []
        for name in missing:
            slot = self.spec.slots.get(name)
            if slot is None:
                continue
            choices = listed.get(name, [])
            if slot.ask_again and choices and all(c.facts for c in choices):
                choice = choose(text, choices, self._places)
                context = {
                    "slots": dict(slots),
                    "text": text,
                    "choices": {name: [_choice_context(c) for c in choices]},
                    "fits": [choices[i].value for i in choice.fits] if choice else [],
                }
                asked.append(_normalise(_template(slot.ask_again).render(**context)))
            else:
                asked.append(_question(slot, slots))
        return " ".join(q for q in asked if q) or "Could you tell me a bit more?"

    def steps(self, slots: Mapping[str, str], customer_id: str, text: str = "") -> list[Step]:
        """The flow's steps with slot values (or the references that look them up) filled in,
        and the customer's words (``${text}``) of this turn's masked ``text``."""
        planned = self._planned(slots, customer_id)
        # A slot always offered is never filled by its lookup: no step gets the reference.
        lookups = {
            name: reference
            for name, reference in self._lookups(slots, planned).items()
            if self.spec.slots[name].offer != "always"
        }
        steps = []
        for spec in planned:
            arguments = _fill_arguments(
                spec.arguments, slots, customer_id, self._types(), lookups, text
            )
            for key, value in arguments.items():
                limit = self._text_limits.get((spec.id, key))
                if limit is not None and isinstance(value, str):
                    arguments[key] = _cut(value, limit)
            steps.append(
                with_reference_dependencies(
                    Step(
                        id=spec.id,
                        tool=spec.tool,
                        arguments=arguments,
                        depends_on=tuple(spec.depends_on),
                        description=spec.description,
                    )
                )
            )
        return steps

    def acts(self, slots: Mapping[str, str], customer_id: str) -> bool:
        """Whether these slots plan any of the flow's steps."""
        return bool(self._planned(slots, customer_id))

    def _planned(self, slots: Mapping[str, str], customer_id: str) -> list[StepSpec]:
        context = {"slots": dict(slots), "customer_id": customer_id}
        return [s for s in self.spec.steps if s.when is None or _truthy(s.when, context)]

    def _lookups(self, slots: Mapping[str, str], planned: list[StepSpec]) -> dict[str, str]:
        """The unknown slots a planned step looks up: name -> the reference to the value."""
        ids = {spec.id for spec in planned}
        return {
            name: slot.lookup
            for name, slot in self.spec.slots.items()
            if slot.lookup and not slots.get(name) and _referenced_step(slot.lookup) in ids
        }

    def still_missing(self, slots: Mapping[str, str], results: list[StepResult]) -> list[str]:
        """The required slots a lookup of this plan left open: its step succeeded, but what it
        found is not one value (``only`` over several items or none). The reply asks for them.
        """
        found = {r.step_id: r.result for r in results if r.ok}
        return [
            name
            for name in self.awaited(slots)
            if (lookup := self.spec.slots[name].lookup)
            and _referenced_step(lookup) in found
            and (self.spec.slots[name].offer == "always" or _looked_up(lookup, found) is None)
        ]

    def offered(
        self, slots: Mapping[str, str], results: list[StepResult]
    ) -> dict[str, list[Shown]]:
        """The choices a lookup of this plan offered for a slot it left open: per item of the
        list, in its order (the order a reply iterating over them shows them), the value and the
        facts the slot's ``shown`` paths read. Nothing when it found fewer than two (than one for a
        slot with ``offer: always``), or values that are not single words (they could not be kept
        apart)."""
        found = {r.step_id: r.result for r in results if r.ok}
        offered: dict[str, list[Shown]] = {}
        for name in self.still_missing(slots, results):
            lookup = self.spec.slots[name].lookup
            assert lookup is not None
            if items := self._shown_items(name, lookup, found):
                offered[name] = items
        return offered

    def listed(self, slots: Mapping[str, str], results: list[StepResult]) -> dict[str, str]:
        """The choices :meth:`offered` as the session slots to keep for the answer:
        ``{"pnr_options": "ZGGJQS DMJ5SB", "pnr_shown": "flight=UA1658 date=2026-12-04 ...;
        flight=UA457 date=2026-11-25 ..."}``: references and the facts the list showed of each,
        nothing else of the lookup's result."""
        kept: dict[str, str] = {}
        for name, choices in self.offered(slots, results).items():
            kept.update(_kept(name, choices))
        return kept

    def _types(self) -> dict[str, str]:
        return {name: slot.type for name, slot in self.spec.slots.items()}

    def context(
        self,
        slots: Mapping[str, str],
        results: list[StepResult],
        customer_id: str = "",
        text: str = "",
    ) -> dict[str, Any]:
        """What the flow's reply templates see; ``choices`` are the items a lookup left open
        offers, as listed (the facts the session keeps for the answer are the ones shown)."""
        context = reply_context(slots, results, [s.id for s in self.spec.steps], customer_id, text)
        context["choices"] = {
            name: [_choice_context(c) for c in choices]
            for name, choices in self.offered(slots, results).items()
        }
        return context

    def reply(self, context: Mapping[str, Any], offers: list[Offer] | None = None) -> str:
        """The first reply whose condition holds, rendered. The requests its text offers to make
        next (``{{ offer('rebook_flight') }}`` where it says "I can look for another flight for
        you", or ``{{ offer('rebook_flight', 'rebook me') }}`` after 'say "rebook me"') are
        added to ``offers``."""
        chosen = self._chosen_reply(context)
        if chosen is None:
            return ""
        refusal = _first_refusal(context)
        if chosen.when is None and refusal:
            # The catch-all reply speaks of a system that could not be reached; a step a policy
            # refused was never sent, and the policy's own words say why.
            return _normalise(refusal)
        made: list[Offer] = []

        def offer(intent: str, say: str = "") -> str:
            if intent:
                made.append(Offer(str(intent), str(say)))
            return ""

        text = _normalise(_template(chosen.text).render(**context, offer=offer))
        if offers is not None:
            offers.extend(made)
        return text

    def _chosen_reply(self, context: Mapping[str, Any]) -> ReplySpec | None:
        return next(
            (r for r in self.spec.replies if r.when is None or _truthy(r.when, context)), None
        )

    def waiting(
        self, context: Mapping[str, Any], slots: Mapping[str, str], results: list[StepResult]
    ) -> tuple[list[str], dict[str, str]]:
        """What the flow waits for after its reply, and what the session keeps for the answer.

        The slots a lookup left open (:meth:`still_missing`), with the choices listed for them
        (:meth:`listed`); else the slots the reply chosen for ``context`` asks for again (its
        ``asks``: "I can't move your trip onto UA891 ... Those are: DL2209"), each emptied (the
        value it had is answered) and kept with the choices that reply listed. Either way, the
        reply's ``keeps``.
        """
        chosen = self._chosen_reply(context)
        waits = self.still_missing(slots, results)
        keep = self.listed(slots, results) if waits else {}
        if not waits and chosen is not None and chosen.asks:
            found = {r.step_id: r.result for r in results if r.ok}
            waits = list(chosen.asks)
            for name, reference in chosen.asks.items():
                keep[name] = ""
                if reference:
                    keep.update(_kept(name, self._shown_items(name, reference, found)))
        if waits and chosen is not None:
            for name, expression in chosen.keeps.items():
                if value := _evaluated(expression, context):
                    keep[name] = value
        return waits, keep

    def _shown_items(self, name: str, reference: str, found: Mapping[str, Any]) -> list[Shown]:
        """The items a lookup ``reference`` with ``only`` offers for the slot, with the facts its
        ``shown`` paths read of each. Nothing when fewer than two (than one for a slot with
        ``offer: always``), or values that are not single words (they could not be kept apart)."""
        slot = self.spec.slots[name]
        items = _offered(reference, found)
        fewest = 1 if slot.offer == "always" else 2
        if len(items) < fewest or not all(_single_word(value) for value, _ in items):
            return []
        return [Shown(str(value), _facts(item, slot.shown)) for value, item in items]

    def offers(self) -> set[str]:
        """Every request a reply of the flow may offer (checked at load to be a flow)."""
        return {name for reply in self.spec.replies for name in _offered_in(reply.text)}

    def confirmation(self, context: Mapping[str, Any]) -> str:
        """What the held steps will do, from the flow's ``confirm`` ("" without one)."""
        if self.spec.confirm is None:
            return ""
        return _normalise(_template(self.spec.confirm).render(**context)).rstrip(".")

    def media(self, context: Mapping[str, Any], tools: ToolIndex) -> list[Media]:
        """Rich media for the steps that succeeded: the flow's own, else the tool's hint."""
        steps: Mapping[str, Any] = context["steps"]
        shown: list[Media] = []
        declared = {m.step for m in self.spec.media}
        for spec in self.spec.media:
            step = steps.get(spec.step)
            if not step or not step["ok"]:
                continue
            if spec.when is not None and not _truthy(spec.when, context):
                continue
            result: dict[str, Any] = step["result"]
            data = {k: result[k] for k in spec.fields if k in result} if spec.fields else result
            shown.append(
                Media(
                    kind=spec.kind,
                    title=_template(spec.title).render(**context).strip(),
                    uri=_template(spec.uri).render(**context).strip(),
                    alt_text=_template(spec.alt_text).render(**context).strip(),
                    data=data,
                    step_id=spec.step,
                )
            )
        for step_spec in self.spec.steps:
            tool = tools.get(step_spec.tool)
            step = steps.get(step_spec.id)
            if step_spec.id in declared or tool is None or tool.media is None or not step:
                continue
            if step["ok"]:
                shown.append(default_media(tool.media, step_spec.id, tool.name, step["result"]))
        return shown


def default_media(kind: str, step_id: str, tool: str, result: dict[str, Any]) -> Media:
    """A media element showing a whole step result, for tools whose contract asks for one."""
    title = re.sub(r"(?<!^)(?=[A-Z])", " ", tool.removeprefix("get")).strip().capitalize()
    uri = next(
        (result[k] for k in ("image_url", "image", "url", "uri") if isinstance(result.get(k), str)),
        "",
    )
    return Media(kind=kind, title=title, data=result, uri=uri, alt_text=title, step_id=step_id)


@functools.lru_cache(maxsize=4096)
def _template(source: str) -> Template:
    """A reply or media template, compiled once per source text (compiling is most of the cost)."""
    return _ENV.from_string(source)


def reply_context(
    slots: Mapping[str, str],
    results: list[StepResult],
    step_ids: list[str],
    customer_id: str = "",
    text: str = "",
) -> dict[str, Any]:
    """What reply templates see. A planned step without a result counts as ``missing``.

    A step's error text is left out: it quotes backends and the mesh's own diagnostics. What a
    policy that refused the step says to the customer is in, as ``refusal`` ("" otherwise).
    """
    steps: dict[str, Any] = {
        step_id: {
            "ok": False,
            "outcome": "missing",
            "result": {},
            "tool": "",
            "http_status": 0,
            "refusal": "",
            "arguments": {},
        }
        for step_id in step_ids
    }
    for result in results:
        steps[result.step_id] = {
            "ok": result.ok,
            "outcome": result.outcome,
            "result": result.result,
            "tool": result.tool,
            "http_status": result.http_status,
            "refusal": result.refusal,
            "arguments": result.arguments,
        }
    return {
        "slots": dict(slots),
        "steps": steps,
        "customer_id": customer_id,
        "text": text,
        "choices": {},
        "resumable": "",
    }


class FlowBook:
    """Every flow, by the intent it serves."""

    def __init__(self, flows: Mapping[str, Flow]) -> None:
        self._flows = dict(flows)

    @classmethod
    def load(cls, folder: Path, tools: ToolIndex) -> FlowBook:
        """Load and check every ``*.yaml`` in the folder; raise ConfigError naming each problem."""
        if not folder.is_dir():
            raise ConfigError(f"flows folder {folder} does not exist")
        flows: dict[str, Flow] = {}
        problems: list[str] = []
        for path in sorted(folder.glob("*.yaml")):
            for flow, errors in _load_file(path, tools):
                problems.extend(f"{path.name}: {flow}: {error}" for error in errors)
                if not errors and isinstance(flow, Flow):
                    if flow.name in flows:
                        problems.append(f"{path.name}: flow {flow.name} is defined twice")
                    flows[flow.name] = flow
        problems.extend(
            f"flow {flow.name}: offers {name!r}, which no flow serves"
            for flow in flows.values()
            for name in sorted(flow.offers())
            if name not in flows
        )
        if problems:
            raise ConfigError("invalid flows:\n  " + "\n  ".join(problems))
        log.info("loaded %d flows from %s", len(flows), folder)
        return cls(flows)

    def get(self, intent: str) -> Flow | None:
        return self._flows.get(intent)

    def names(self) -> list[str]:
        return sorted(self._flows)


def _load_file(path: Path, tools: ToolIndex) -> list[tuple[Flow | str, list[str]]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        document = FlowFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as error:
        return [("(file)", [f"cannot read: {error}"])]
    except ValidationError as error:
        lines = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        return [("(file)", lines)]
    loaded: list[tuple[Flow | str, list[str]]] = []
    places = place_names(document.places)
    for name, spec in document.flows.items():
        errors = _check(spec, tools)
        if errors:
            loaded.append((name, errors))
            continue
        patterns = {n: [re.compile(p) for p in s.patterns] for n, s in spec.slots.items()}
        synonyms = {
            n: {k.casefold(): v for k, v in s.synonyms.items()} for n, s in spec.slots.items()
        }
        answers = {n: [re.compile(p) for p in s.answer_patterns] for n, s in spec.slots.items()}
        limits = _text_limits(spec, tools)
        not_after = {n: re.compile(s.not_after) for n, s in spec.slots.items() if s.not_after}
        flow = Flow(
            name, document.industry, spec, patterns, synonyms, answers, places, limits, not_after
        )
        loaded.append((flow, []))
    return loaded


def _text_limits(spec: FlowSpec, tools: ToolIndex) -> dict[tuple[str, str], int]:
    """Per (step, argument) quoting the customer's words, the length its contract allows."""
    limits: dict[tuple[str, str], int] = {}
    for step in spec.steps:
        tool = tools.get(step.tool)
        properties = tool.parameters.get("properties", {}) if tool is not None else {}
        for key, value in step.arguments.items():
            limit = properties.get(key, {}).get("maxLength")
            if isinstance(value, str) and TEXT_REFERENCE in value and isinstance(limit, int):
                limits[(step.id, key)] = limit
    return limits


def _check(spec: FlowSpec, tools: ToolIndex) -> list[str]:
    errors: list[str] = []
    for name, slot in spec.slots.items():
        if slot.source == "text" and not slot.patterns:
            errors.append(f"slot {name}: a slot filled from text needs patterns")
        if slot.source == "caller" and slot.required is not False:
            # Nobody can answer a question about who is calling: the request says it or not.
            errors.append(f"slot {name}: a slot from the caller is never asked: required: false")
        if isinstance(slot.required, str):
            errors.extend(
                f"slot {name}: required: {problem}"
                for problem in _condition_errors(slot.required, spec.slots)
            )
        if slot.patterns and slot.required and not slot.question:
            errors.append(f"slot {name}: a required slot needs a question to ask")
        errors.extend(_question_errors(name, slot, spec.slots))
        if slot.transform == "time" and any("(?P<hour>" not in p for p in slot.patterns):
            errors.append(f"slot {name}: a time slot's patterns need a (?P<hour>...) group")
        if slot.lookup is not None:
            errors.extend(_lookup_errors(name, slot.lookup, spec))
        for suffix in LISTED_SUFFIXES:
            if name.endswith(suffix):
                # <slot>_options and <slot>_shown hold what a reply listed for <slot>.
                errors.append(f"slot {name}: a slot's name must not end in {suffix!r}")
        errors.extend(_shown_errors(name, slot))
        if slot.answer_patterns and not (slot.required and slot.source == "text"):
            # A flow waits only for required slots the customer gives.
            errors.append(f"slot {name}: answer_patterns need a required slot filled from text")
        if slot.refines and (slot.required is not False or not slot.patterns):
            # It answers what the flow waits for, never becomes what the flow waits for.
            errors.append(f"slot {name}: refines needs an optional slot read from the text")
    step_ids = [s.id for s in spec.steps]
    conditions = {s.id: s.when for s in spec.steps}
    for step in spec.steps:
        if step.when is not None:
            errors.extend(_template_errors("", step.when))
        for dependency in [*step.depends_on, *references(step.arguments)]:
            needed = conditions.get(dependency, step.when)
            # A step may depend on one whose condition its own implies: "A and B" needs "A".
            implied = step.when is not None and step.when.startswith(f"{needed} and ")
            if needed not in (None, step.when) and not implied:
                errors.append(
                    f"step {step.id}: depends on step {dependency}, which has another `when`"
                )
        if not STEP_ID.match(step.id):
            errors.append(f"step {step.id!r}: id must match {STEP_ID.pattern}")
        for match in _SLOT_REFERENCE.finditer(_dump(step.arguments)):
            if match.group(2) and match.group(2) not in spec.slots:
                errors.append(f"step {step.id}: argument uses unknown slot {match.group(2)!r}")
    # The graph and the tools are checked exactly as a model's plan is, with slots as stand-ins.
    sample = dict.fromkeys(spec.slots, "1")
    types = {name: slot.type for name, slot in spec.slots.items()}
    stand_in = [
        with_reference_dependencies(
            Step(
                s.id,
                s.tool,
                _fill_arguments(s.arguments, sample, "C-0000", types),
                tuple(s.depends_on),
            )
        )
        for s in spec.steps
    ]
    errors.extend(e for e in plan_errors(stand_in, tools) if _structural(e))
    for name, slot in spec.slots.items():
        problems = [*_template_errors(slot.ask_again, None), *_quoted_errors(slot.ask_again, None)]
        errors.extend(f"slot {name}: ask_again: {problem}" for problem in problems)
    for reply in spec.replies:
        errors.extend(_asks_errors(reply, spec))
        errors.extend(_keeps_errors(reply, spec))
        errors.extend(_template_errors(reply.text, reply.when))
        errors.extend(_quoted_errors(reply.text, reply.when))
        errors.extend(_offer_errors(reply.text))
    if spec.confirm is not None:
        problems = [*_template_errors(spec.confirm, None), *_quoted_errors(spec.confirm, None)]
        errors.extend(f"confirm: {problem}" for problem in problems)
    for media in spec.media:
        if media.step not in step_ids:
            errors.append(f"media: names no step of the flow: {media.step!r}")
        for text in (media.title, media.uri, media.alt_text):
            errors.extend(_template_errors(text, media.when))
            errors.extend(_quoted_errors(text, media.when))
    if spec.replies[-1].when is not None:
        errors.append("replies: the last reply must have no `when`, so some reply always applies")
    return errors


_STRUCTURAL = (
    "unknown tool",
    "depends_on",
    "cycle",
    "is used more than once",
    "id must match",
    "no other step",
    "without depending",
)


def _structural(error: str) -> bool:
    # Slot stand-ins cannot satisfy argument formats; only tools and the graph are checked here.
    return any(marker in error for marker in _STRUCTURAL)


def _referenced_step(reference: str) -> str:
    match = STEP_REFERENCE.fullmatch(reference)
    return match.group(1) if match else ""


def _looked_up(reference: str, results: Mapping[str, Any]) -> Any:
    """The value a lookup reference names in the results, or None where the tool-broker leaves it
    unresolved (its rules, in :mod:`services.tool_broker.references`: ``only`` takes a list's
    single item)."""
    match = STEP_REFERENCE.fullmatch(reference)
    if match is None or match.group(1) not in results:
        return None
    return _walk(results[match.group(1)], match.group(2).split(".")[1:])


def _walk(value: Any, segments: list[str]) -> Any:
    """The value at the path's segments, as the tool-broker resolves them, or None."""
    try:
        return walk(value, segments)
    except UnresolvedReference:
        return None


def _offered(reference: str, results: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """What a lookup reference with ``only`` chooses among: per item of the list ``only`` stands
    on, in the list's order, the rest of its path over the item and the item itself
    (``reservations.only.pnr`` -> every reservation's pnr, and the reservation). Empty when the
    path does not lead to such a list."""
    match = STEP_REFERENCE.fullmatch(reference)
    if match is None or match.group(1) not in results:
        return []
    segments = match.group(2).split(".")[1:]
    if ONLY not in segments:
        return []
    position = segments.index(ONLY)
    items = _walk(results[match.group(1)], segments[:position])
    if not isinstance(items, list):
        return []
    return [(_walk(item, segments[position + 1 :]), item) for item in items]


def _kept(name: str, choices: list[Shown]) -> dict[str, str]:
    """Listed choices as the session keeps them: ``<slot>_options`` and ``<slot>_shown``."""
    if not choices:
        return {}
    kept = {name + OPTIONS_SUFFIX: " ".join(c.value for c in choices)}
    if any(c.facts for c in choices):
        kept[name + SHOWN_SUFFIX] = _SHOWN_ITEMS.join(
            " ".join(f"{k}{_SHOWN_FACT}{v}" for k, v in c.facts.items()) for c in choices
        )
    return kept


def _single_word(value: Any) -> bool:
    return isinstance(value, str) and bool(_SHOWN_VALUE.match(value))


def _facts(item: Any, paths: Mapping[str, str]) -> dict[str, str]:
    """The facts ``shown`` reads of one listed item: single words; a date as its ISO day. A fact
    the item lacks is left out (an answer naming it then fits no such item)."""
    facts: dict[str, str] = {}
    for kind, path in paths.items():
        value = _walk(item, path.split("."))
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        text = str(value)
        if kind in CLOCKS:
            # The wall clock of the offset given: "2026-11-26T15:10:00-06:00" is 15:10.
            moment = _parse_time(text)
            if moment is None:
                continue
            text = moment.strftime("%H:%M")
        if kind == DATE:
            try:
                text = date.fromisoformat(text[:10]).isoformat()
            except ValueError:
                continue
        if _SHOWN_VALUE.match(text):
            facts[kind] = text
    return facts


def _parse_facts(item: str) -> dict[str, str]:
    """One item of a kept ``<slot>_shown``: "flight=UA457 date=2026-11-25" -> its facts."""
    pairs = (word.partition(_SHOWN_FACT) for word in item.split())
    return {kind: value for kind, sep, value in pairs if sep and _SHOWN_KIND.match(kind) and value}


def _choice_context(choice: Shown) -> dict[str, str]:
    """A listed choice as templates see it: ``value`` and each fact shown by its kind."""
    return {**choice.facts, "value": choice.value}


def _shown_errors(name: str, slot: SlotSpec) -> list[str]:
    """``shown`` and ``ask_again`` describe the items a lookup with ``only`` lists."""
    if not (slot.shown or slot.ask_again or slot.offer != "several"):
        return []
    if slot.lookup is None or f".{ONLY}." not in slot.lookup:
        return [
            f"slot {name}: shown, ask_again and offer need a lookup through a list (`.{ONLY}.`)"
        ]
    errors = []
    for kind, path in slot.shown.items():
        if not _SHOWN_KIND.match(kind) or kind == "value":
            errors.append(f"slot {name}: shown: {kind!r} must be a lower-case word, not 'value'")
        if not path or any(not segment for segment in path.split(".")):
            errors.append(f"slot {name}: shown: {kind}: {path!r} is no path into an item")
    return errors


def _lookup_errors(name: str, lookup: str, spec: FlowSpec) -> list[str]:
    step_id = _referenced_step(lookup)
    if not step_id:
        return [f"slot {name}: lookup must be one reference ${{steps.<id>.<path>}}: {lookup!r}"]
    step = next((s for s in spec.steps if s.id == step_id), None)
    if step is None:
        return [f"slot {name}: lookup names no step of the flow: {step_id!r}"]
    uses = {m.group(2) for m in _SLOT_REFERENCE.finditer(_dump(step.arguments))}
    if name in uses:
        return [f"slot {name}: its lookup step {step_id} needs the slot itself"]
    return []


def _keeps_errors(reply: ReplySpec, spec: FlowSpec) -> list[str]:
    """A reply keeps values only for the flow's optional slots the customer could give."""
    errors: list[str] = []
    for name, expression in reply.keeps.items():
        slot = spec.slots.get(name)
        if slot is None or slot.required is not False or slot.source != "text":
            errors.append(f"reply keeps slot {name!r}: it must be an optional slot of the text")
        errors.extend(f"reply keeps {name}: {e}" for e in _template_errors("", expression))
    return errors


def _asks_errors(reply: ReplySpec, spec: FlowSpec) -> list[str]:
    """A reply asks again only for the flow's slots the customer gives (required, or required on a
    condition, from the text), and lists their choices from a step of the flow, through ``only``."""
    errors: list[str] = []
    for name, reference in reply.asks.items():
        slot = spec.slots.get(name)
        if slot is None:
            errors.append(f"reply asks for an unknown slot {name!r}")
            continue
        if slot.required is False or slot.source != "text":
            errors.append(f"reply asks for slot {name}: it must be required and from the text")
        if not reference:
            continue
        problems = _lookup_errors(name, reference, spec)
        if not problems and ONLY not in reference.split("."):
            problems = [f"slot {name}: the list a reply asks from needs `only`: {reference!r}"]
        errors.extend(f"reply asks: {problem}" for problem in problems)
    return errors


def _quoted_errors(text: str, when: str | None) -> list[str]:
    """A template that quotes a step's ``error``: refused, the customer must never read it."""
    try:
        trees = [_STRICT_ENV.parse(text)]
        if when is not None:
            trees.append(_STRICT_ENV.parse("{{ " + when + " }}"))
    except TemplateError:
        return []  # reported by _template_errors
    for tree in trees:
        if any(_is_step_error(n) for n in tree.find_all((nodes.Getattr, nodes.Getitem))):
            return [
                "a reply quotes a step's `error` (backend or mesh diagnostics, never shown to "
                "the customer): say what its outcome or http_status means in your own words"
            ]
    return []


def _is_step_error(node: nodes.Node) -> bool:
    """Whether the node reads ``steps.<id>.error`` (or ``steps['<id>']['error']``)."""
    if isinstance(node, nodes.Getattr):
        name, parent = node.attr, node.node
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name, parent = node.arg.value, node.node
    else:
        return False
    return (
        name == "error"
        and isinstance(parent, nodes.Getattr | nodes.Getitem)
        and isinstance(parent.node, nodes.Name)
        and parent.node.name == "steps"
    )


def _question_errors(name: str, slot: SlotSpec, slots: Collection[str]) -> list[str]:
    """A question names only slots the flow declares, never its own (it is asked only while
    that one is unknown), and reads nothing else: nothing else is known when it is asked. One
    that names slots has a plain question, naming none, for when one of them is unknown."""
    trees = []
    for field_name, source in (
        ("question", slot.question),
        ("plain_question", slot.plain_question),
    ):
        try:
            trees.append(_STRICT_ENV.parse(source))
        except TemplateError as error:
            return [f"slot {name}: {field_name}: template error: {error}"]
    named, others = _slot_reads(trees[0])
    errors = [
        f"slot {name}: question reads {other!r}: a question reads only `slots.<name>`"
        for other in others
    ]
    errors.extend(
        f"slot {name}: question names unknown slot {unknown!r}"
        for unknown in sorted(named - set(slots))
    )
    if name in named:
        errors.append(
            f"slot {name}: question names its own slot, which is unknown whenever it is asked"
        )
    if named and not slot.plain_question:
        errors.append(
            f"slot {name}: a question naming slots needs a plain_question, asked while one of "
            "them is unknown"
        )
    if slot.plain_question and not named:
        errors.append(f"slot {name}: plain_question is only for a question that names slots")
    if any(True for _ in trees[1].find_all(nodes.Name)):
        errors.append(
            f"slot {name}: plain_question names nothing: it is asked when what the question "
            "names is unknown"
        )
    return errors


def _slot_reads(tree: nodes.Node) -> tuple[set[str], list[str]]:
    """The slots a template names (``slots.<name>``, ``slots['<name>']``), and what else it
    reads: another variable, or ``slots`` as a whole (``slots[key]``, ``slots | length``)."""
    named: set[str] = set()
    reads = 0
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key: Any = None
        if isinstance(node, nodes.Getattr):
            parent, key = node.node, node.attr
        elif isinstance(node, nodes.Getitem):
            parent = node.node
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            continue
        if isinstance(parent, nodes.Name) and parent.name == "slots" and isinstance(key, str):
            named.add(key)
            reads += 1
    names = [n.name for n in tree.find_all(nodes.Name)]
    others = sorted({n for n in names if n != "slots"})
    if names.count("slots") > reads:
        others.append("slots")
    return named, others


@functools.lru_cache(maxsize=1024)
def _slots_named(question: str) -> frozenset[str]:
    """The slots a question names (checked at load to read nothing else)."""
    return frozenset(_slot_reads(_STRICT_ENV.parse(question))[0])


def _question(slot: SlotSpec, slots: Mapping[str, str]) -> str:
    """The slot's question, with the slots it names, when each holds the customer's words; else
    its plain question. A value holding a placeholder (``<PERSON_1>``) counts as unknown: it
    means nothing to the customer and may stand for a person."""
    words = {k: v for k, v in slots.items() if v and not PLACEHOLDER.search(v)}
    source = slot.question if _slots_named(slot.question) <= words.keys() else slot.plain_question
    return _normalise(_template(source).render(slots=words))


def _condition_errors(condition: str, slots: Collection[str]) -> list[str]:
    """A slot's ``required`` condition compiles and reads only declared slots (nothing else is
    known when it is decided)."""
    try:
        tree = _STRICT_ENV.parse("{{ " + condition + " }}")
    except TemplateError as error:
        return [f"template error: {error}"]
    errors = []
    for name in tree.find_all(nodes.Name):
        if name.name != "slots":
            errors.append(f"{condition!r} reads {name.name!r}: a condition reads only `slots`")
    for read in tree.find_all(nodes.Getattr):
        if isinstance(read.node, nodes.Name) and read.node.name == "slots":
            if read.attr not in slots:
                errors.append(f"{condition!r} reads unknown slot {read.attr!r}")
    return errors


def _offer_calls(text: str) -> list[nodes.Call]:
    try:
        tree = _STRICT_ENV.parse(text)
    except TemplateError:
        return []  # reported by _template_errors
    return [
        call
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name) and call.node.name == "offer"
    ]


def _offered_in(text: str) -> list[str]:
    """The requests a reply text offers (``offer('<intent>'[, '<what to say>'])``)."""
    return [
        call.args[0].value
        for call in _offer_calls(text)
        if call.args and isinstance(call.args[0], nodes.Const)
    ]


def _offer_errors(text: str) -> list[str]:
    """``offer`` takes one intent's name, written out (the flows it names are checked at load),
    and optionally what the customer may say for it, written out too. The one name it may take
    unwritten is ``resumable``: the request a policy refused in the chat until the caller proved
    who they are, which the router names on the proof's turn (a request that had a flow)."""
    return [
        "offer() takes one intent's name as a quoted string (or resumable), and optionally what "
        "to say for it"
        for call in _offer_calls(text)
        if len(call.args) not in (1, 2)
        or call.kwargs
        or not (
            _written(call.args[0])
            or (isinstance(call.args[0], nodes.Name) and call.args[0].name == "resumable")
        )
        or not all(_written(arg) for arg in call.args[1:])
    ]


def _written(arg: nodes.Expr) -> bool:
    return isinstance(arg, nodes.Const) and isinstance(arg.value, str)


def _template_errors(text: str, when: str | None) -> list[str]:
    errors: list[str] = []
    try:
        _STRICT_ENV.parse(text)
        if when is not None:
            _STRICT_ENV.compile_expression(when)
    except TemplateError as error:
        errors.append(f"template error: {error}")
    return errors


def _first_refusal(context: Mapping[str, Any]) -> str:
    """The customer-facing words of the first policy that refused one of the steps ("": none)."""
    steps = context.get("steps") or {}
    return next((str(s["refusal"]) for s in steps.values() if s.get("refusal")), "")


def _truthy(expression: str, context: Mapping[str, Any]) -> bool:
    return bool(_ENV.compile_expression(expression, undefined_to_none=True)(**context))


def _evaluated(expression: str, context: Mapping[str, Any]) -> str:
    """A Jinja expression's value as a slot keeps it: "" for nothing (none, undefined, empty)."""
    value = _ENV.compile_expression(expression, undefined_to_none=True)(**context)
    return "" if value is None else str(value)


_WORD = re.compile(r"\w")
_REFINING_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
#: the words a message that asks for another value than the one looked up may have around it
# What a customer says around a new value for the request that waits: "actually, could you make
# it 75 instead?", "sorry, I meant 100 dollars", "no wait, to my visa please".
_AMENDING_WORDS = frozenset(
    "actually no nope sorry oh um uh hmm wait well ok okay yes yeah then just only instead rather "
    "make it that change can could you please i i'd i'm meant mean want like let's do how about "
    "to my the a amount of for on and but so send put pay it's card one ending in with".split()
)
_ASKING_WORDS = frozenset(
    "what what's about how how's and or but so then instead rather anything something any else "
    "is are there there's was were do does did you have has can could would will i i'd i'm we "
    "it be possible okay ok hmm well please maybe try check look see show me us flight flights "
    "no nah nope not actually oh um uh wait yes yeah sure thanks thank chance perhaps possibly "
    "like prefer want need "
    "one ones seat seats available free open option options on for in at the a an of to from "
    "fly flying go going leave leaving travel travelling traveling depart departing book "
    "rebook change move switch put get onto into "
    "morning afternoon evening night earlier later".split()
)


def _ends_with(pattern: re.Pattern[str], text: str) -> bool:
    """Whether a match of the pattern ends the text, but for spaces and punctuation."""
    return any(not _WORD.search(text[m.end() :]) for m in pattern.finditer(text))


def _transform(match: re.Match[str], transform: str) -> str:
    groups = [g for g in match.groups() if g]
    if transform == "time":
        return _clock(match)
    if transform == "date":
        return named_day(match.group(0), date.today())
    if transform == "cents":
        try:
            return str(round(float(groups[0].replace(",", "")) * 100)) if groups else ""
        except ValueError:
            return ""
    value = ("".join(groups) if groups else match.group(0)).strip()
    if transform == "upper":
        return value.upper()
    if transform == "lower":
        return value.lower()
    return value


def _clock(match: re.Match[str]) -> str:
    # "7am", "7:30 pm", "19:05" -> "07:00", "19:30", "19:05": named groups hour, minute, ampm.
    parts = match.groupdict()
    try:
        hour, minute = int(parts.get("hour") or ""), int(parts.get("minute") or 0)
    except ValueError:
        return ""
    ampm = (parts.get("ampm") or "").lower()
    if ampm.startswith("p") and hour < 12:
        hour += 12
    elif ampm.startswith("a") and hour == 12:
        hour = 0
    return f"{hour:02d}:{minute:02d}" if hour < 24 and minute < 60 else ""


def _customer_words(text: str) -> str:
    """The customer's words in the masked text: its placeholders ("<PERSON_1>") left out."""
    return " ".join(PLACEHOLDER.sub(" ", text).split())


def _cut(words: str, limit: int) -> str:
    """The words, at most ``limit`` characters of them, cut between words where it can."""
    if len(words) <= limit:
        return words
    head = words[: limit + 1]
    return (head.rsplit(" ", 1)[0] if " " in head else head[:limit]).rstrip()


def _fill_arguments(
    value: Any,
    slots: Mapping[str, str],
    customer_id: str,
    types: Mapping[str, str],
    lookups: Mapping[str, str] | None = None,
    text: str = "",
) -> Any:
    lookups = lookups or {}
    if isinstance(value, dict):
        filled: dict[str, Any] = {}
        for key, item in value.items():
            if item == TEXT_REFERENCE and not _customer_words(text):
                continue  # a message of placeholders only: nothing of the customer's to quote
            whole = _WHOLE_SLOT.match(item) if isinstance(item, str) else None
            if whole and not slots.get(whole.group(1)):
                if whole.group(1) in lookups:
                    filled[key] = lookups[whole.group(1)]  # resolved by the broker, type kept
                continue  # else an optional slot nobody filled: leave the argument out
            if whole and types.get(whole.group(1)) == "integer":
                try:
                    filled[key] = int(slots[whole.group(1)])
                except ValueError:
                    filled[key] = slots[whole.group(1)]  # the contract check will say why
                continue
            filled[key] = _fill_arguments(item, slots, customer_id, types, lookups, text)
        return filled
    if isinstance(value, list):
        return [_fill_arguments(item, slots, customer_id, types, lookups, text) for item in value]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match.group(1) == "customer_id":
                return customer_id
            if match.group(1) == "text":
                return _customer_words(text)
            return slots.get(match.group(2)) or lookups.get(match.group(2), "")

        # A reference at the end left empty leaves no space behind ("... settled. ").
        return _SLOT_REFERENCE.sub(substitute, value).strip()
    return value


def _dump(value: Any) -> str:
    return yaml.safe_dump(value)


def _normalise(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return "\n".join(lines).strip()
