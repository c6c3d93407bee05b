"""Plans as domain values, the step reference syntax, and the checks every plan must pass.

A step's argument may name a field of an earlier step's result with ``${steps.<id>.<path>}``
(``<path>`` is dot-separated; list items by index, e.g. ``${steps.alts.flights.0.flight_number}``,
or ``only`` for a list's single item, unresolved when the list has none or several).
The tool-broker resolves it before execution; the planner checks that the step named is one the
step depends on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from services.planner.tools import ToolIndex
from services.tool_broker.references import REFERENCE

#: the reference syntax, exactly as the tool-broker resolves it: a reference the broker would
#: follow is one whose step the planner checks (and renames when plans are merged)
STEP_REFERENCE = REFERENCE
STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
TIERS = ("embedded", "fast", "deep")


@dataclass(frozen=True)
class Step:
    """One tool call of a plan."""

    id: str
    tool: str
    arguments: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Usage:
    """Tokens one model call consumed."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class Plan:
    """The planner's answer for one turn."""

    steps: list[Step]
    flow: str
    tier: str
    missing_slots: list[str] = field(default_factory=list)
    slots: dict[str, str] = field(default_factory=dict)
    #: why the embedded engine answered although a model is configured; "" when it did not
    fallback_reason: str = ""
    usage: list[Usage] = field(default_factory=list)
    id: str = ""
    #: serves only requests beside the conversation's thread: what waits for an answer stays
    aside: bool = False


@dataclass(frozen=True)
class MissingSlots:
    """The slots a flow's reply asks for after its plan ran (a lookup left them open).

    ``keep`` are values for the session to keep among its slots until the next turn: the choices
    the reply listed, in the order shown (``{"pnr_options": "ZGGJQS DMJ5SB"}``).
    """

    flow: str
    slots: tuple[str, ...]
    keep: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Offer:
    """A request a reply offered to make next ("I can look for another flight for you"): a plain
    yes on the next turn takes up a single one. ``say`` is what the reply told the customer to say
    for it ("rebook me"), if anything: with two or more on offer, the customer is asked which."""

    intent: str
    say: str = ""


@dataclass(frozen=True)
class StepResult:
    """How one step ended, as the composer sees it (masked).

    ``error`` explains a failure for the trace and the audit trail (a backend's problem detail, a
    policy's reason): never for the customer. ``refusal`` is what the customer may read of a step
    a policy refused: the refusing rule's own customer-facing ``message`` ("Before I change
    anything on your booking or account, I need to verify your identity."), empty when no policy
    refused the step; it never holds a backend's or the mesh's words.
    """

    step_id: str
    tool: str
    outcome: str  # succeeded | failed | rejected | timed_out | skipped | unavailable
    result: dict[str, Any]
    error: str = ""
    http_status: int = 0
    refusal: str = ""
    #: the refusing rule ("base/customer-data-needs-a-known-caller") when ``refusal`` is set
    refused_by: str = ""
    #: what the step was checked and called with (references resolved, masked); {} when it never
    #: got that far. A held step's are what the customer is asked to confirm.
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"


def references(value: Any) -> Iterator[str]:
    """The step ids a value refers to, at any depth."""
    if isinstance(value, str):
        for match in STEP_REFERENCE.finditer(value):
            yield match.group(1)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references(item)


def with_reference_dependencies(step: Step) -> Step:
    """The step, depending also on every step its arguments refer to (as the broker reads it)."""
    extra = [r for r in dict.fromkeys(references(step.arguments)) if r not in step.depends_on]
    if not extra:
        return step
    return replace(step, depends_on=(*step.depends_on, *extra))


def renamed(step: Step, names: Mapping[str, str]) -> Step:
    """The step with its own id, its dependencies and its references renamed by ``names``."""

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return STEP_REFERENCE.sub(
                lambda m: "${steps." + names.get(m.group(1), m.group(1)) + m.group(2) + "}", value
            )
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    return replace(
        step,
        id=names.get(step.id, step.id),
        arguments=rename(step.arguments),
        depends_on=tuple(names.get(d, d) for d in step.depends_on),
    )


def _without_references(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    # A referenced value is known only at execution, so it cannot be type-checked now.
    kept = {k: v for k, v in arguments.items() if not any(True for _ in references(v))}
    return kept, set(arguments) - set(kept)


def plan_errors(steps: Sequence[Step], tools: ToolIndex) -> list[str]:
    """Why a plan cannot be executed: unknown tools, bad arguments, a broken graph. [] = valid."""
    errors: list[str] = []
    ids = [step.id for step in steps]
    known = set(ids)
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(f"step id {duplicate!r} is used more than once")
    for step in steps:
        where = f"step {step.id!r}"
        if not STEP_ID.match(step.id):
            errors.append(f"{where}: id must match {STEP_ID.pattern}")
        for dependency in step.depends_on:
            if dependency not in known or dependency == step.id:
                errors.append(f"{where}: depends_on names no other step: {dependency!r}")
        for referenced in sorted(set(references(step.arguments))):
            if referenced not in known or referenced == step.id:
                errors.append(f"{where}: arguments refer to no other step: {referenced!r}")
            elif referenced not in step.depends_on:
                errors.append(f"{where}: refers to step {referenced!r} without depending on it")
        if step.tool not in tools:
            errors.append(f"{where}: unknown tool {step.tool!r}")
            continue
        checked, referenced_keys = _without_references(step.arguments)
        for problem in tools.argument_errors(step.tool, checked):
            if not any(f"'{key}' is a required property" in problem for key in referenced_keys):
                errors.append(f"{where} ({step.tool}): {problem}")
    cycle = _cycle(steps)
    if cycle:
        errors.append("the steps' dependencies form a cycle: " + " -> ".join(cycle))
    return errors


def _cycle(steps: Sequence[Step]) -> list[str]:
    graph = {step.id: [d for d in step.depends_on if d != step.id] for step in steps}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt in graph and nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
