"""GovernanceService: maps protos to the governance domain and back, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from grpc import aio

from services.governance import telemetry
from services.governance.engine import Governance, Intent
from services.governance.ladder import Decision, FallbackReason, Ladder, Route
from services.governance.output import OutputGuard, Release
from services.governance.verdicts import Action, Stage, Verdict
from services.runtime import telemetry_names as names
from services.runtime.convert import struct_to_dict
from services.runtime.errors import InvalidArgument
from switchboard.v1 import common_pb2, events_pb2, governance_pb2, governance_pb2_grpc
from switchboard.v1.governance_pb2 import CheckOutputResponse

_STAGES = {
    Stage.INPUT: common_pb2.POLICY_STAGE_INPUT,
    Stage.TOOL_CALL: common_pb2.POLICY_STAGE_TOOL_CALL,
    Stage.OUTPUT: common_pb2.POLICY_STAGE_OUTPUT,
}
_STAGES_BACK = {value: key for key, value in _STAGES.items()}
_ACTIONS = {
    Action.ALLOW: common_pb2.POLICY_ACTION_ALLOW,
    Action.BLOCK: common_pb2.POLICY_ACTION_BLOCK,
    Action.CONFIRM: common_pb2.POLICY_ACTION_CONFIRM,
    Action.HANDOFF: common_pb2.POLICY_ACTION_HANDOFF,
    Action.REDACT: common_pb2.POLICY_ACTION_REDACT,
    Action.DISCLAIM: common_pb2.POLICY_ACTION_DISCLAIM,
}
_ACTIONS_BACK = {value: key for key, value in _ACTIONS.items()}
_ROUTES = {
    Route.PROCEED: governance_pb2.DECISION_ROUTE_PROCEED,
    Route.CLARIFY: governance_pb2.DECISION_ROUTE_CLARIFY,
    Route.SAFE_FLOW: governance_pb2.DECISION_ROUTE_SAFE_FLOW,
    Route.HANDOFF: governance_pb2.DECISION_ROUTE_HANDOFF,
    Route.REFUSE: governance_pb2.DECISION_ROUTE_REFUSE,
}
_REASONS = {
    FallbackReason.LOW_CONFIDENCE: events_pb2.FALLBACK_REASON_LOW_CONFIDENCE,
    FallbackReason.AMBIGUOUS: events_pb2.FALLBACK_REASON_AMBIGUOUS,
    FallbackReason.OUT_OF_SCOPE: events_pb2.FALLBACK_REASON_OUT_OF_SCOPE,
    FallbackReason.POLICY: events_pb2.FALLBACK_REASON_POLICY,
}
# A refusal answers with the blocking rule's scripted message: a safe flow of one reply.
_FALLBACK_ACTIONS = {
    Route.CLARIFY: events_pb2.FALLBACK_ACTION_CLARIFY,
    Route.SAFE_FLOW: events_pb2.FALLBACK_ACTION_SAFE_FLOW,
    Route.REFUSE: events_pb2.FALLBACK_ACTION_SAFE_FLOW,
    Route.HANDOFF: events_pb2.FALLBACK_ACTION_HANDOFF,
}


def verdict_to_proto(verdict: Verdict) -> common_pb2.PolicyVerdict:
    """A domain verdict as a PolicyVerdict."""
    return common_pb2.PolicyVerdict(
        stage=_STAGES[verdict.stage],
        action=_ACTIONS[verdict.action],
        rule_id=verdict.rule_id,
        reason=verdict.reason,
        message=verdict.message,
    )


def verdict_from_proto(message: common_pb2.PolicyVerdict) -> Verdict:
    """A PolicyVerdict as a domain verdict; unspecified enums are invalid arguments."""
    stage = _STAGES_BACK.get(message.stage)
    action = _ACTIONS_BACK.get(message.action)
    if stage is None or action is None:
        raise InvalidArgument(f"verdict {message.rule_id!r} has no stage or no action")
    return Verdict(stage, action, message.rule_id, message.reason, message.message)


def session_facts(request: Any, session_id: str) -> dict[str, Any]:
    """What rules read as ``session``: the id, plus the request's session facts when it has them.

    The facts (identity_verified, confirmed, fallbacks_in_a_row, ...) arrive in a ``session``
    Struct on requests whose proto declares one.
    """
    facts: dict[str, Any] = {}
    if "session" in request.DESCRIPTOR.fields_by_name and request.HasField("session"):
        facts = struct_to_dict(getattr(request, "session"))  # noqa: B009 - not in every proto
    facts["id"] = session_id
    return facts


def _decision_to_proto(
    decision: Decision, intent_verdicts: Sequence[Verdict]
) -> governance_pb2.DecideResponse:
    response = governance_pb2.DecideResponse(
        route=_ROUTES[decision.route],
        tier=decision.tier,
        message=decision.message,
        handoff_queue=decision.handoff_queue,
        matched=[verdict_to_proto(v) for v in intent_verdicts],
    )
    if decision.fallback is not None:
        fallback = decision.fallback
        response.fallback.CopyFrom(
            events_pb2.Fallback(
                reason=_REASONS[fallback.reason],
                action=_FALLBACK_ACTIONS[fallback.route],
                detail=fallback.detail,
                original_intent=fallback.original_intent,
                original_confidence=fallback.original_confidence,
                options=list(fallback.options),
            )
        )
    return response


class GovernanceServicer(governance_pb2_grpc.GovernanceServiceServicer):
    """The gRPC face of :class:`Governance` and :class:`Ladder`."""

    def __init__(
        self,
        governance: Callable[[], Governance],
        ladder: Callable[[], Ladder],
        max_hold_chars: int,
    ) -> None:
        self._governance = governance
        self._ladder = ladder
        self._max_hold_chars = max_hold_chars

    async def CheckInput(
        self,
        request: governance_pb2.CheckInputRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> governance_pb2.CheckInputResponse:
        if not request.text.strip():
            raise InvalidArgument("text is empty")
        with telemetry.check_span(names.SPAN_CHECK_INPUT) as span:
            check = self._governance().check_input(
                request.text, request.channel, session_facts(request, request.session_id)
            )
            telemetry.record(span, check.verdict, check.matched)
        return governance_pb2.CheckInputResponse(
            verdict=verdict_to_proto(check.verdict),
            matched=[verdict_to_proto(v) for v in check.matched],
        )

    async def Decide(
        self,
        request: governance_pb2.DecideRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> governance_pb2.DecideResponse:
        if not request.intent.name:
            raise InvalidArgument("intent.name is empty")
        if not 0.0 <= request.intent.confidence <= 1.0:
            raise InvalidArgument(f"intent.confidence {request.intent.confidence} is not in [0, 1]")
        intent = Intent(
            name=request.intent.name,
            confidence=request.intent.confidence,
            candidates=tuple((c.name, c.confidence) for c in request.intent.candidates),
            out_of_scope=request.intent.out_of_scope,
            intents=tuple(request.intent.intents),
        )
        session = session_facts(request, request.session_id)
        verdicts = [verdict_from_proto(v) for v in request.verdicts]
        intent_verdicts: list[Verdict] = []
        with telemetry.check_span(names.SPAN_DECIDE) as span:
            # Every intent the message expresses meets the intent rules, not only the top one.
            for name in dict.fromkeys((intent.name, *intent.intents)):
                each = intent if name == intent.name else replace(intent, name=name)
                intent_verdicts.extend(self._governance().check_intent(each, session))
            decision = self._ladder().decide(intent, [*verdicts, *intent_verdicts], session)
            span.set_attribute(names.DECISION_ROUTE, decision.route.value)
            if decision.tier:
                span.set_attribute(names.DECISION_TIER, decision.tier)
            if decision.fallback is not None:
                span.set_attribute(names.POLICY_REASON, decision.fallback.detail)
        return _decision_to_proto(decision, intent_verdicts)

    async def CheckToolCall(
        self,
        request: governance_pb2.CheckToolCallRequest,
        context: aio.ServicerContext[Any, Any],
    ) -> governance_pb2.CheckToolCallResponse:
        if not request.HasField("step"):
            raise InvalidArgument("step is missing")
        if not request.step.tool:
            raise InvalidArgument("step.tool is empty")
        if request.calls_in_turn < 0:
            raise InvalidArgument("calls_in_turn is negative")
        with telemetry.check_span(names.SPAN_CHECK_TOOL_CALL) as span:
            span.set_attribute(names.TOOL, request.step.tool)
            check = self._governance().check_tool_call(
                request.step.tool,
                struct_to_dict(request.step.arguments),
                request.calls_in_turn,
                session_facts(request, request.session_id),
            )
            telemetry.record(span, check.verdict, check.matched)
        return governance_pb2.CheckToolCallResponse(
            verdict=verdict_to_proto(check.verdict),
            matched=[verdict_to_proto(v) for v in check.matched],
        )

    async def CheckOutput(
        self,
        request_iterator: AsyncIterator[governance_pb2.CheckOutputRequest],
        context: aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[governance_pb2.CheckOutputResponse]:
        guard: OutputGuard | None = None
        fired: list[str] = []
        # Not the current span: a span made current inside an async generator would be detached
        # in another context when the client goes away mid-stream.
        span = telemetry.start_span(names.SPAN_CHECK_OUTPUT)
        try:
            async for request in request_iterator:
                if guard is None:
                    guard = OutputGuard(
                        self._governance().output_rules(),
                        request.intent,
                        session_facts(request, request.session_id),
                        self._max_hold_chars,
                    )
                for response in _responses(guard.feed(request.text), fired):
                    yield response
            for response in _responses(guard.close() if guard else [], fired):
                yield response
        finally:
            span.set_attribute(names.POLICY_MATCHED, fired)
            span.end()


def _responses(releases: Iterable[Release], fired: list[str]) -> Iterator[CheckOutputResponse]:
    """The responses for released pieces, noting which rules fired; nothing for empty pieces."""
    for release in releases:
        if release.verdict is None:
            if release.text:
                yield CheckOutputResponse(text=release.text)
            continue
        fired.append(release.verdict.rule_id)
        yield CheckOutputResponse(text=release.text, verdict=verdict_to_proto(release.verdict))
