"""Executing tool calls and plans: validate, check policy, restore PII, call, validate, mask.

Every step goes through the same pipeline, and the first stage that refuses ends it:

1. resolve ``${steps.<id>.<path>}`` references (see :mod:`services.tool_broker.references`);
2. the tool must exist and its (masked) arguments meet its contract — checked here, locally,
   before anything leaves the broker, even though governance checks the contract too;
3. governance.CheckToolCall: anything but ALLOW is REJECTED and never sent;
4. pii.Restore of the arguments, for the tool's ``pii_types`` only; the restored arguments must
   meet the contract as well;
5. the HTTP call (timeouts, safe retries, breaker and concurrency limit: :mod:`.backends`);
6. the response must meet the contract: a violating response is FAILED, never data;
7. pii.RedactData of the result before it leaves, except the strings its contract marks public
   reference data (``x-switchboard-public``: :mod:`services.catalogue.public`); a result that is
   public throughout is not sent to pii at all.

A plan's changes (steps whose tool is not read-only) are all or none, as far as can be known
before they are made (:class:`_Guard`): none is made when a step of the plan whose arguments are
known before it runs is refused by policy, and none waits less than the customer's "yes" that
another step of the plan is held for.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from services.catalogue import ArgumentBinding, Catalogue, ToolSpec
from services.catalogue.catalogue import PLACEHOLDER
from services.catalogue.openapi import IDEMPOTENCY_HEADER
from services.catalogue.public import JsonPath, get, put
from services.runtime import deadline
from services.runtime.errors import DeadlineExceeded
from services.tool_broker import telemetry
from services.tool_broker.backends import BackendClient, BackendRequest, Exchange, Failure
from services.tool_broker.config import ToolBrokerSettings
from services.tool_broker.dag import PlanGraph
from services.tool_broker.dates import iso_date
from services.tool_broker.model import (
    CallContext,
    JsonObject,
    Outcome,
    PeerUnavailable,
    PiiVault,
    PlanEvent,
    Step,
    StepFinished,
    StepResult,
    StepStarted,
    ToolCallPolicy,
    Verdict,
)
from services.tool_broker.references import UnresolvedReference, referenced_steps, resolve

log = logging.getLogger(__name__)

_TURNS_REMEMBERED = 10_000
#: the verdict actions that stop a step whatever the customer says; CONFIRM waits for a "yes"
_REFUSALS = ("BLOCK", "HANDOFF")


def idempotency_key(context: CallContext, step_id: str) -> str:
    """The key a step's mutation carries: the same for every attempt of the step in its plan
    (or, for a lone call, its turn)."""
    material = "\x1f".join((context.session_id, context.plan_id or context.turn_id, step_id))
    return "sbx-" + hashlib.sha256(material.encode()).hexdigest()[:40]


def _key_source(step: Step, masked_arguments: JsonObject) -> str:
    # A step without an id (a lone ExecuteTool) is known by its tool and masked arguments, so two
    # different calls in one turn never share a key while a repeat of the same call does.
    if step.id:
        return step.id
    return "call:" + step.tool + ":" + json.dumps(masked_arguments, sort_keys=True)


def wrap_body(body: Any) -> JsonObject:
    """A backend body as a JSON object: arrays become {"items": [...]}, scalars {"value": ...}."""
    if isinstance(body, dict):
        return body
    if body is None:
        return {}
    if isinstance(body, list):
        return {"items": body}
    return {"value": body}


def _holds_text(value: Any) -> bool:
    """Whether a string value (not a key) with something in it is left anywhere in ``value``."""
    if isinstance(value, str):
        return bool(value)
    if isinstance(value, dict):
        return any(_holds_text(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_text(item) for item in value)
    return False


class _StepRefused(Exception):
    """Ends a step's pipeline early with an outcome."""

    def __init__(self, outcome: Outcome, error: str, **fields: Any) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error
        self.fields = fields


class Broker:
    """Runs steps and plans against the backends; knows nothing of gRPC."""

    def __init__(
        self,
        settings: ToolBrokerSettings,
        catalogue: Catalogue,
        backends: Mapping[str, BackendClient],
        policy: ToolCallPolicy,
        vault: PiiVault,
    ) -> None:
        self._settings = settings
        self.catalogue = catalogue
        self._backends = backends
        self._policy = policy
        self._vault = vault
        self._calls_in_turn: OrderedDict[tuple[str, str], int] = OrderedDict()

    def tools(self, backend: str = "") -> list[ToolSpec]:
        """The catalogue, sorted by name, limited to one backend when named."""
        return [t for t in self.catalogue.tools() if not backend or t.backend == backend]

    async def execute_tool(self, context: CallContext, step: Step) -> StepResult:
        """Run one step on its own (references have nothing to refer to)."""
        with deadline.scope(self._settings.default_deadline_s):
            return await self._run_step(context, step, {}, lambda _event: None)

    async def execute_plan(
        self, context: CallContext, steps: Sequence[Step]
    ) -> AsyncIterator[PlanEvent]:
        """Run a plan, yielding each step's start and finish as they happen.

        Raises InvalidArgument, before anything runs, when the steps are not a DAG. A step starts
        as soon as every step it needs has succeeded; a step whose dependency did not succeed is
        SKIPPED, and so are its own dependants. Each step gets a share of the remaining deadline:
        what is left divided by the number of steps on the longest chain it starts.

        A step's policy check sees the session facts the caller sent, updated by the facts that
        the steps it waits for (directly or not) read (see :func:`with_plan_facts`). A change the
        plan's guard holds (see :class:`_Guard`) is REJECTED after its own check, never sent.
        """
        graph = PlanGraph.build(steps)
        events: asyncio.Queue[PlanEvent | None] = asyncio.Queue()
        # The runner task copies the context, deadline included, when it is created; the scope
        # is not held across the yields, which run in the caller's hands.
        with deadline.scope(self._settings.default_deadline_s):
            runner = asyncio.create_task(self._run_graph(context, graph, events.put_nowait))
        try:
            while (event := await events.get()) is not None:
                yield event
            await runner
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner

    async def _run_graph(
        self,
        context: CallContext,
        graph: PlanGraph,
        emit: Callable[[PlanEvent | None], None],
    ) -> None:
        results: dict[str, JsonObject] = {}
        #: step id -> the session facts its result gave (x-switchboard.facts)
        facts: dict[str, JsonObject] = {}
        guard = await self._guard(context, graph)
        waiting = {
            step_id: set(needs) | guard.gates_of(step_id) for step_id, needs in graph.needs.items()
        }
        finished: set[str] = set()

        def settle(step_id: str, result: StepResult, group: asyncio.TaskGroup) -> None:
            finished.add(step_id)
            emit(StepFinished(result))
            guard.settled(result)
            # The changes that waited for this gate go on either way; whether they are held is
            # asked when they run.
            for gated in guard.gated_by(step_id):
                if gated in finished:
                    continue
                waiting[gated].discard(step_id)
                if not waiting[gated]:
                    group.create_task(run(gated, group))
            for dependant in graph.dependants[step_id]:
                if dependant in finished:
                    continue
                if not result.succeeded:
                    skip = StepResult(
                        step_id=dependant,
                        tool=graph.steps[dependant].tool,
                        outcome=Outcome.SKIPPED,
                        error=f"step {step_id!r}, which it needs, ended {result.outcome.value}",
                    )
                    settle(dependant, skip, group)
                    continue
                waiting[dependant].discard(step_id)
                if not waiting[dependant]:
                    group.create_task(run(dependant, group))

        async def run(step_id: str, group: asyncio.TaskGroup) -> None:
            step = graph.steps[step_id]
            left = deadline.remaining()
            if left is not None and left <= 0:
                result = StepResult(
                    step_id=step_id,
                    tool=step.tool,
                    outcome=Outcome.TIMED_OUT,
                    error="the plan's deadline ran out before the step could start",
                )
            else:
                share = None if left is None else left / graph.height[step_id]
                # Only the steps it waits for: they finished before it started whatever the
                # timing, so the same plan is always checked against the same facts.
                read = [facts[a] for a in graph.ancestors[step_id] if a in facts]
                with deadline.scope(share):
                    result = await self._run_step(
                        with_plan_facts(context, read), step, results, emit, guard.hold(step_id)
                    )
            if result.succeeded and result.result is not None:
                results[step_id] = result.result
                facts[step_id] = self.catalogue.facts(step.tool, result.result)
            settle(step_id, result, group)

        try:
            async with asyncio.TaskGroup() as group:
                for root in graph.roots():
                    if not waiting[root]:
                        group.create_task(run(root, group))
        finally:
            emit(None)

    async def _guard(self, context: CallContext, graph: PlanGraph) -> _Guard:
        """The plan's guard, with the steps that can be checked before anything runs checked."""
        # An unknown tool is refused when it runs; it changes nothing here.
        specs = {
            step_id: spec
            for step_id, step in graph.steps.items()
            if (spec := self.catalogue.get(step.tool)) is not None
        }
        changes = frozenset(i for i, spec in specs.items() if not spec.read_only)
        if not changes or len(graph.steps) < 2:
            return _Guard(graph, frozenset(), frozenset(), None)
        confirmed = context.session.get("confirmed") is True
        gates = frozenset() if confirmed else frozenset(i for i in changes if specs[i].confirm)
        return _Guard(graph, changes, gates, await self._refused_in_advance(context, graph))

    async def _refused_in_advance(self, context: CallContext, graph: PlanGraph) -> Verdict | None:
        """A refusal of a step whose arguments are known before the plan runs (no references),
        checked as it would be at its place in the plan: after every step before it in plan order
        (the turn's tool-call budget counts them all). None when none is refused, or when policy
        cannot be asked now (each step is then checked, and refused closed, when it runs)."""
        calls = self._calls(context)
        known = [
            (position, step)
            for position, step in enumerate(graph.steps.values())
            if not referenced_steps(step.arguments)
        ]
        try:
            checked = await asyncio.gather(
                *(self._policy.check(context, step, calls + position) for position, step in known)
            )
        except PeerUnavailable as error:
            log.warning("the plan's steps could not be checked in advance: %s", error)
            return None
        for (_, step), (verdict, _matched) in zip(known, checked, strict=True):
            if verdict.action in _REFUSALS:
                return Verdict(
                    "BLOCK",
                    "plan/step-refused",
                    f"not made: step {step.id!r} of this plan ({step.tool}) is refused by policy "
                    f"{verdict.rule_id}: {verdict.reason}",
                )
        return None

    async def _run_step(
        self,
        context: CallContext,
        step: Step,
        results: Mapping[str, JsonObject],
        emit: Callable[[PlanEvent], None],
        hold: Verdict | None = None,
    ) -> StepResult:
        with telemetry.step_span(context, step) as span:
            result = await self._pipeline(context, step, results, emit, hold)
            telemetry.record(span, result)
        return result

    async def _pipeline(
        self,
        context: CallContext,
        step: Step,
        results: Mapping[str, JsonObject],
        emit: Callable[[PlanEvent], None],
        hold: Verdict | None,
    ) -> StepResult:
        started = time.monotonic()
        verdicts: list[Verdict] = []
        arguments: JsonObject | None = None
        try:
            try:
                arguments = resolve(step.arguments, results)
            except UnresolvedReference as error:
                emit(StepStarted(step.id, step.tool, step.arguments))
                raise _StepRefused(
                    Outcome.REJECTED, f"cannot resolve a reference: {error}"
                ) from None
            emit(StepStarted(step.id, step.tool, arguments))
            result = await self._call(context, step, arguments, verdicts, hold)
        except _StepRefused as refused:
            result = StepResult(
                step_id=step.id,
                tool=step.tool,
                outcome=refused.outcome,
                error=refused.error,
                **refused.fields,
            )
        except DeadlineExceeded as error:
            result = StepResult(step.id, step.tool, Outcome.TIMED_OUT, error=error.message)
        latency = time.monotonic() - started
        return StepResult(
            step_id=result.step_id,
            tool=result.tool,
            outcome=result.outcome,
            result=result.result,
            error=result.error,
            latency_s=latency,
            attempts=result.attempts,
            http_status=result.http_status,
            verdicts=tuple(verdicts),
            arguments=arguments,
        )

    async def _call(
        self,
        context: CallContext,
        step: Step,
        arguments: JsonObject,
        verdicts: list[Verdict],
        hold: Verdict | None = None,
    ) -> StepResult:
        spec = self.catalogue.get(step.tool)
        binding = self.catalogue.binding(step.tool)
        if spec is None or binding is None:
            reason = f"unknown tool {step.tool!r}: no backend operation has this operationId"
            verdicts.append(Verdict("BLOCK", "contract/unknown-tool", reason))
            raise _StepRefused(Outcome.REJECTED, reason)
        errors = self.catalogue.validate_arguments(spec.name, arguments, allow_placeholders=True)
        if errors:
            reason = "; ".join(errors)
            verdicts.append(Verdict("BLOCK", "contract/arguments", reason))
            raise _StepRefused(Outcome.REJECTED, reason)

        checked = Step(step.id, step.tool, arguments, step.depends_on, step.description)
        try:
            verdict, matched = await self._policy.check(context, checked, self._calls(context))
        except PeerUnavailable as error:
            raise self._peer_failure(f"governance could not check the call: {error}") from None
        verdicts.extend(matched or (verdict,))
        if not verdict.allows:
            raise _StepRefused(
                Outcome.REJECTED,
                f"policy {verdict.rule_id} said {verdict.action}: {verdict.reason}",
            )
        if hold is not None:
            # Allowed on its own, but the rest of its plan cannot follow (yet).
            verdicts.append(hold)
            raise _StepRefused(Outcome.REJECTED, hold.reason)

        restored = await self._restore(context, spec, arguments)
        request = self._request(context, _key_source(step, arguments), spec, binding, restored)
        backend = self._backends.get(spec.backend)
        if backend is None:
            raise _StepRefused(Outcome.UNAVAILABLE, f"backend {spec.backend!r} is not configured")
        self._count_call(context)
        exchange = await backend.send(request)
        return await self._answer(context, step, spec, exchange)

    async def _restore(
        self, context: CallContext, spec: ToolSpec, arguments: JsonObject
    ) -> JsonObject:
        placeholders = sorted(_placeholders(arguments))
        if not placeholders:
            return arguments
        refused: Sequence[str] = placeholders
        restored = arguments
        if spec.pii_types:
            try:
                restored, refused = await self._vault.restore(
                    context.session_id, arguments, spec.pii_types
                )
            except PeerUnavailable as error:
                raise self._peer_failure(f"pii could not restore the arguments: {error}") from None
        if refused:
            allowed = ", ".join(sorted(spec.pii_types)) or "none"
            raise _StepRefused(
                Outcome.REJECTED,
                f"{spec.name} may not receive {', '.join(refused)} (PII types it may receive: "
                f"{allowed}); a placeholder would be sent instead of the value",
            )
        restored = self._written_dates(spec.name, arguments, restored)
        if self.catalogue.validate_arguments(spec.name, restored):
            # The messages would quote restored values, so they are not repeated here.
            raise _StepRefused(
                Outcome.REJECTED,
                f"{spec.name}: a restored PII value does not have the form the contract requires",
            )
        return restored

    def _written_dates(self, tool: str, masked: JsonObject, restored: JsonObject) -> JsonObject:
        """The restored arguments with each date the customer wrote in their own form ("14 March
        1988" for a ``format: date`` argument) in the contract's YYYY-MM-DD, where its reading is
        certain (:func:`~services.tool_broker.dates.iso_date`). Only values restored from a
        placeholder, the customer's own words, are rewritten; an uncertain one is left to break
        the contract, and the call is never sent."""
        rewritten: JsonObject | None = None
        for path in self.catalogue.malformed_dates(tool, restored):
            if not _placeholders(get(masked, path)):
                continue
            iso = iso_date(get(restored, path))
            if iso is not None:
                rewritten = rewritten or copy.deepcopy(restored)
                put(rewritten, path, iso)
        return rewritten or restored

    def _request(
        self,
        context: CallContext,
        key_source: str,
        spec: ToolSpec,
        binding: ArgumentBinding,
        arguments: JsonObject,
    ) -> BackendRequest:
        path = spec.path
        for name in binding.of("path"):
            path = path.replace("{" + name + "}", quote(_text(arguments[name]), safe=""))
        query = {
            name: _query_value(arguments[name]) for name in binding.of("query") if name in arguments
        }
        headers = {
            name: _text(arguments[name]) for name in binding.of("header") if name in arguments
        }
        if not spec.read_only or binding.idempotent:
            headers[IDEMPOTENCY_HEADER] = idempotency_key(context, key_source)
        body_names = binding.of("body")
        body = {name: arguments[name] for name in body_names if name in arguments}
        return BackendRequest(
            method=spec.method,
            path=path,
            query=query,
            headers=headers,
            json=body if body_names else None,
            retry_safe=spec.read_only or binding.idempotent,
        )

    async def _answer(
        self, context: CallContext, step: Step, spec: ToolSpec, exchange: Exchange
    ) -> StepResult:
        attempts, status = exchange.attempts, exchange.status
        if exchange.failure is Failure.TIMED_OUT:
            raise _StepRefused(Outcome.TIMED_OUT, exchange.error, attempts=attempts)
        if exchange.failure is not None:
            raise _StepRefused(Outcome.UNAVAILABLE, exchange.error, attempts=attempts)
        fields = {"attempts": attempts, "http_status": status}
        if not 200 <= status < 300:
            error = f"{spec.name}: {spec.backend} answered HTTP {status}{_problem(exchange.body)}"
            raise _StepRefused(Outcome.FAILED, await self._masked(context, error), **fields)
        violations = self.catalogue.validate_response(spec.name, status, exchange.body)
        if violations:
            error = "the response breaks the contract: " + "; ".join(violations)
            raise _StepRefused(Outcome.FAILED, await self._masked(context, error), **fields)
        public = self.catalogue.public_strings(spec.name, status, exchange.body)
        try:
            masked = await self._mask_result(context, exchange.body, public)
        except PeerUnavailable as error:
            raise _StepRefused(
                Outcome.FAILED,
                f"{spec.backend} answered HTTP {status}, but pii could not mask the result, so it "
                f"is withheld: {error}",
                **fields,
            ) from None
        return StepResult(
            step.id,
            step.tool,
            Outcome.SUCCEEDED,
            result=masked,
            attempts=attempts,
            http_status=status,
        )

    async def _mask_result(
        self, context: CallContext, body: Any, public: Sequence[JsonPath]
    ) -> JsonObject:
        """The result as the model may see it: masked, but for its public strings, which are
        blanked for pii and put back after."""
        if not public:
            return await self._vault.redact(context.session_id, wrap_body(body))
        result = wrap_body(copy.deepcopy(body))
        root: JsonPath = (
            () if isinstance(body, dict) else ("items",) if isinstance(body, list) else ("value",)
        )
        held = [((*root, *path), get(result, (*root, *path))) for path in public]
        for path, _ in held:
            put(result, path, "")
        if _holds_text(result):
            result = await self._vault.redact(context.session_id, result)
        for path, value in held:
            put(result, path, value)
        return result

    async def _masked(self, context: CallContext, text: str) -> str:
        """Text quoting backend data, masked; a generic text when the pii service cannot mask it."""
        try:
            masked = await self._vault.redact(context.session_id, {"text": text})
        except PeerUnavailable:
            return text.split(":", 1)[0] + ": (details withheld: pii could not mask them)"
        value = masked.get("text")
        return value if isinstance(value, str) else text

    def _peer_failure(self, error: str) -> _StepRefused:
        left = deadline.remaining()
        if left is not None and left <= 0:
            return _StepRefused(Outcome.TIMED_OUT, error)
        return _StepRefused(Outcome.UNAVAILABLE, error)

    def _calls(self, context: CallContext) -> int:
        return self._calls_in_turn.get((context.session_id, context.turn_id), 0)

    def _count_call(self, context: CallContext) -> None:
        key = (context.session_id, context.turn_id)
        self._calls_in_turn[key] = self._calls_in_turn.get(key, 0) + 1
        self._calls_in_turn.move_to_end(key)
        while len(self._calls_in_turn) > _TURNS_REMEMBERED:
            self._calls_in_turn.popitem(last=False)


class _Guard:
    """Keeps a plan's changes all or none, as far as can be known before they are made.

    - Refused in advance: a step whose arguments hold no references is checked before anything
      runs; if policy refuses one, no change of the plan is made (each is REJECTED after its own
      check), since the plan cannot be completed. The reads still run: the reply needs them.
    - Held for a "yes": a change whose contract requires the customer's confirmation, while the
      session has not confirmed, is a gate. Every other change waits for the gates (unless it is
      one of their ancestors: a gate's arguments may need what it made) and is held when a gate
      ended held or refused by policy; a gate that does not apply (its reference does not resolve)
      or went through lets them go on. So nothing is changed on a plan that waits for the
      customer's word, and the confirmation, when it comes, runs the plan again with every change.

    Not guarded: a rule that refuses a step only once the steps before it have answered (its
    arguments name their results), and a rule of a pack that asks for a "yes" on a tool whose
    contract does not.
    """

    def __init__(
        self,
        graph: PlanGraph,
        changes: frozenset[str],
        gates: frozenset[str],
        refused: Verdict | None,
    ) -> None:
        self._refused = refused
        self._changes = changes
        self._gates = gates
        #: change -> the gates it waits for: not those it needs anyway (it is skipped unless they
        #: succeed), nor those that need it
        self._waits: dict[str, frozenset[str]] = {
            change: frozenset(
                gate
                for gate in gates
                if change not in graph.ancestors[gate] and gate not in graph.ancestors[change]
            )
            for change in changes - gates
        }
        self._held: Verdict | None = None

    def gates_of(self, step_id: str) -> set[str]:
        """The gates ``step_id`` waits for besides the steps it needs."""
        return set(self._waits.get(step_id, ()))

    def gated_by(self, gate: str) -> list[str]:
        """The changes waiting for ``gate``."""
        return [change for change, gates in self._waits.items() if gate in gates]

    def settled(self, result: StepResult) -> None:
        """Note how a gate ended."""
        if result.step_id not in self._gates or result.outcome is not Outcome.REJECTED:
            return
        actions = {verdict.action for verdict in result.verdicts}
        if self._held is not None:
            return
        gate = f"step {result.step_id!r} of this plan ({result.tool})"
        if "CONFIRM" in actions:
            reason = f"not made yet: {gate} waits for the customer's confirmation"
            self._held = Verdict("CONFIRM", "plan/held", reason)
        elif actions & set(_REFUSALS):
            self._held = Verdict("BLOCK", "plan/held", f"not made: {gate} is refused by policy")

    def hold(self, step_id: str) -> Verdict | None:
        """Why the change ``step_id`` may not be made now; None for a read, or a change that may."""
        if step_id not in self._changes:
            return None
        if self._refused is not None:
            return self._refused
        if step_id in self._waits:
            return self._held
        return None


def with_plan_facts(context: CallContext, read: Sequence[Mapping[str, Any]]) -> CallContext:
    """The context with the session facts the caller sent updated by those earlier steps of the
    plan read, in the order given (each after the steps it waited for).

    What the plan read wins: it is the backend's answer during this very plan, fresher than
    anything the caller knew when it sent the plan. A map (``charges``) is updated entry by
    entry, so a charge the plan did not read keeps what the caller said of it.
    """
    if not any(read):
        return context
    session = dict(context.session)
    for layer in read:
        for name, value in layer.items():
            known = session.get(name)
            if isinstance(value, dict) and isinstance(known, Mapping):
                session[name] = {**known, **value}
            else:
                session[name] = value
    return dataclasses.replace(context, session=session)


def _placeholders(value: Any) -> set[str]:
    """The PII placeholders in the string values of a JSON value, at any depth."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(_placeholders(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_placeholders(item) for item in value))
    return set()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_value(value: Any) -> str | list[str]:
    if isinstance(value, list):
        return [_text(item) for item in value]
    return _text(value)


def _problem(body: Any) -> str:
    """The RFC 9457 problem's title and detail, when the body is one."""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("title", "detail") if body.get(key)]
    return ": " + ": ".join(parts) if parts else ""
