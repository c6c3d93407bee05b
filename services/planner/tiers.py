"""The model tiers: the fast tool-calling turn, the deep structured plan, and the streamed reply.

- **fast** (default ``gpt-4.1``): the model is offered the catalogue as tools; the calls it makes
  in one response become independent plan steps. A rejected call (unknown tool, arguments that
  are not JSON or break the schema) goes back to it as the tool's error, for up to
  ``fast_tool_rounds`` rounds; still failing, the attempt has failed and the planner escalates.
- **deep** (default ``gpt-5.2``): the model must call ``submit_plan`` once with a DAG of steps.
  The plan is checked against :data:`PLAN_SCHEMA` and against the catalogue (tools, arguments,
  dependencies, references); an invalid plan is sent back once with its errors for repair, and
  a second invalid plan raises :class:`PlanRejected`.
- **compose** (fast model): streams the reply grounded in the step results; the model may signal
  rich media with ``show_media``, and a request its reply offers to make next with
  ``offer_next`` (one of those the turn's flow may offer), so that a plain yes takes it up.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from services.planner.config import ModelSettings
from services.planner.llm import Completion, Message, ModelClient, ToolCall
from services.planner.plans import (
    Step,
    StepResult,
    Usage,
    plan_errors,
    with_reference_dependencies,
)
from services.planner.prompts import Prompts
from services.planner.tools import ToolIndex, openai_tool

log = logging.getLogger(__name__)

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": 16,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}$"},
                    "tool": {"type": "string", "minLength": 1},
                    "arguments": {"type": "object"},
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                    "description": {"type": "string"},
                },
                "required": ["id", "tool", "arguments"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["steps"],
    "additionalProperties": False,
}
_PLAN_VALIDATOR = Draft202012Validator(PLAN_SCHEMA)

SUBMIT_PLAN = "submit_plan"
SUBMIT_PLAN_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": SUBMIT_PLAN,
        "description": "Submit the whole plan: a DAG of tool steps.",
        "parameters": PLAN_SCHEMA,
    },
}
SHOW_MEDIA = "show_media"
SHOW_MEDIA_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": SHOW_MEDIA,
        "description": "Show a succeeded step's result to the customer as rich media.",
        "parameters": {
            "type": "object",
            "properties": {
                "step_id": {"type": "string"},
                "kind": {"type": "string", "enum": ["image", "video", "form", "card"]},
                "title": {"type": "string"},
            },
            "required": ["step_id", "kind"],
            "additionalProperties": False,
        },
    },
}

OFFER_NEXT = "offer_next"


def offer_next_tool(offers: Sequence[str]) -> dict[str, Any]:
    """The tool the composing model calls when its reply offers one of ``offers`` next."""
    return {
        "type": "function",
        "function": {
            "name": OFFER_NEXT,
            "description": "Say that the reply offers to make this request for the customer next.",
            "parameters": {
                "type": "object",
                "properties": {"intent": {"type": "string", "enum": list(offers)}},
                "required": ["intent"],
                "additionalProperties": False,
            },
        },
    }


@dataclass
class Context:
    """What a model is told about the turn: masked text and the planner's own facts only."""

    text: str
    intent: str
    other_intents: list[str] = field(default_factory=list)
    slots: dict[str, str] = field(default_factory=dict)
    customer_id: str = ""
    history: list[tuple[str, str]] = field(default_factory=list)

    def messages(self, system: str) -> list[Message]:
        messages: list[Message] = [{"role": "system", "content": system}]
        for role, text in self.history:
            messages.append(
                {"role": "assistant" if role == "assistant" else "user", "content": text}
            )
        messages.append({"role": "user", "content": self.text})
        return messages


@dataclass
class FastResult:
    """The fast tier's outcome: steps (possibly none), or the errors that made it fail."""

    steps: list[Step]
    usage: list[Usage]
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


class PlanRejected(Exception):
    """The deep model's plan was still invalid after one repair."""

    def __init__(self, errors: list[str], usage: list[Usage]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.usage = usage


@dataclass(frozen=True)
class MediaSignal:
    """The model asked to show a step's result as rich media."""

    step_id: str
    kind: str
    title: str


@dataclass(frozen=True)
class OfferSignal:
    """The model's reply offers to make this request next."""

    intent: str


class ModelTiers:
    """Plans and replies made by models."""

    def __init__(
        self,
        client: ModelClient,
        settings: ModelSettings,
        tools: ToolIndex,
        prompts: Prompts,
        brand: str,
    ) -> None:
        self.client = client
        self.settings = settings
        self.tools = tools
        self.prompts = prompts
        self.brand = brand

    async def fast(self, context: Context) -> FastResult:
        """One tool-calling turn of the fast model, with rejected calls sent back for repair."""
        system = self.prompts.render(
            "plan_fast",
            brand=self.brand,
            intent=context.intent,
            slots=context.slots,
            customer_id=context.customer_id,
        )
        messages = context.messages(system)
        offered = [openai_tool(tool) for tool in self.tools.tools()]
        usage: list[Usage] = []
        errors: list[str] = []
        for _ in range(self.settings.fast_tool_rounds):
            completion = await self.client.complete(
                self.settings.fast_model, messages, offered, "auto"
            )
            _count(usage, completion)
            if not completion.tool_calls:
                return FastResult([], usage)
            steps, problems = self._check_calls(completion.tool_calls)
            if not any(problems.values()):
                return FastResult(steps, usage)
            errors = [f"{call}: {'; '.join(p)}" for call, p in problems.items() if p]
            log.info("fast tier: rejected tool calls: %s", errors)
            messages.append(completion.assistant_message())
            for call in completion.tool_calls:
                reasons = problems[call.id] or ["another call of this response was rejected"]
                content = self.prompts.render("tool_errors", errors=reasons)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        return FastResult([], usage, errors)

    async def deep(self, context: Context) -> tuple[list[Step], list[Usage]]:
        """A structured plan from the deep model, repaired once if invalid."""
        system = self.prompts.render(
            "plan_deep",
            brand=self.brand,
            intent=context.intent,
            other_intents=context.other_intents,
            slots=context.slots,
            customer_id=context.customer_id,
            tools=self.tools.tools(),
        )
        messages = context.messages(system)
        forced = {"type": "function", "function": {"name": SUBMIT_PLAN}}
        usage: list[Usage] = []
        errors: list[str] = []
        for attempt in (1, 2):
            completion = await self.client.complete(
                self.settings.deep_model, messages, [SUBMIT_PLAN_TOOL], forced
            )
            _count(usage, completion)
            steps, errors = self._parse_plan(completion)
            if not errors:
                return steps, usage
            log.info("deep tier: invalid plan (attempt %d): %s", attempt, errors)
            repair = self.prompts.render("repair", errors=errors)
            messages.append(completion.assistant_message())
            if completion.tool_calls:
                for call in completion.tool_calls:
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": repair})
            else:
                messages.append({"role": "user", "content": repair})
        raise PlanRejected(errors, usage)

    async def compose(
        self,
        context: Context,
        results: Sequence[StepResult],
        media: Sequence[dict[str, str]],
        offers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[str | MediaSignal | OfferSignal | Usage]:
        """Text deltas as they stream, then the media and the offers the model signalled, then
        the usage. ``offers``: the requests the reply may offer next, with what each does."""
        offers = offers or {}
        system = self.prompts.render(
            "compose",
            brand=self.brand,
            intent=context.intent,
            slots=context.slots,
            results=[
                {
                    "step_id": r.step_id,
                    "tool": r.tool,
                    "outcome": r.outcome,
                    "ok": r.ok,
                    "result": r.result,
                    "error": r.error,
                }
                for r in results
            ],
            media=media,
            offers=offers,
        )
        messages = context.messages(system)
        model = self.settings.fast_model
        tools = [SHOW_MEDIA_TOOL] + ([offer_next_tool(list(offers))] if offers else [])
        async for item in self.client.stream(model, messages, tools, "auto"):
            if isinstance(item, str):
                yield item
                continue
            succeeded = {r.step_id for r in results if r.ok}
            for call in item.tool_calls:
                signal = _signal(call, succeeded, offers)
                if signal is not None:
                    yield signal
            yield item.usage or Usage(model=model)

    def _check_calls(self, calls: list[ToolCall]) -> tuple[list[Step], dict[str, list[str]]]:
        steps: list[Step] = []
        problems: dict[str, list[str]] = {}
        ids: set[str] = set()
        for call in calls:
            problems[call.id] = []
            if call.name not in self.tools:
                problems[call.id].append(f"unknown tool {call.name!r}")
                continue
            try:
                arguments = call.parsed()
            except ValueError as error:
                problems[call.id].append(f"arguments are not a valid JSON object: {error}")
                continue
            problems[call.id].extend(self.tools.argument_errors(call.name, arguments))
            step_id = _step_id(call.name, ids)
            steps.append(Step(step_id, call.name, arguments, (), f"{call.name} (fast tier)"))
        return steps, problems

    def _parse_plan(self, completion: Completion) -> tuple[list[Step], list[str]]:
        calls = [c for c in completion.tool_calls if c.name == SUBMIT_PLAN]
        others = sorted({c.name for c in completion.tool_calls if c.name != SUBMIT_PLAN})
        if others:
            return [], [f"only {SUBMIT_PLAN} may be called, not {', '.join(others)}"]
        if len(calls) != 1:
            return [], [f"call {SUBMIT_PLAN} exactly once with the whole plan"]
        try:
            document = json.loads(calls[0].arguments or "")
        except ValueError as error:
            return [], [f"the {SUBMIT_PLAN} arguments are not valid JSON: {error}"]
        schema_errors = sorted(_PLAN_VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
        if schema_errors:
            return [], [
                f"plan{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
                for e in schema_errors
            ]
        steps = [
            with_reference_dependencies(
                Step(
                    id=raw["id"],
                    tool=raw["tool"],
                    arguments=raw["arguments"],
                    depends_on=tuple(raw.get("depends_on", [])),
                    description=raw.get("description", ""),
                )
            )
            for raw in document["steps"]
        ]
        return steps, plan_errors(steps, self.tools)


def _count(usage: list[Usage], completion: Completion) -> None:
    usage.append(completion.usage or Usage(model=completion.model))


def _step_id(tool: str, taken: set[str]) -> str:
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", tool).lower()
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _signal(
    call: ToolCall, succeeded: set[str], offers: Mapping[str, str]
) -> MediaSignal | OfferSignal | None:
    """What a call the composing model made asks for; None (logged) when it asks for nothing it
    may: an unknown tool, arguments that are not JSON, a step that did not succeed, a request
    the turn's flow does not offer."""
    if call.name not in (SHOW_MEDIA, OFFER_NEXT) or (call.name == OFFER_NEXT and not offers):
        log.warning("compose: ignoring call of unknown tool %r", call.name)
        return None
    try:
        arguments = call.parsed()
    except ValueError:
        log.warning("compose: ignoring %s with arguments that are not JSON", call.name)
        return None
    if call.name == OFFER_NEXT:
        intent = arguments.get("intent")
        if intent not in offers:
            log.warning("compose: ignoring offer_next of %r, not on offer", intent)
            return None
        return OfferSignal(str(intent))
    step_id, kind = arguments.get("step_id"), arguments.get("kind")
    if step_id not in succeeded or kind not in ("image", "video", "form", "card"):
        log.warning("compose: ignoring show_media for step %r kind %r", step_id, kind)
        return None
    return MediaSignal(str(step_id), str(kind), str(arguments.get("title") or ""))
