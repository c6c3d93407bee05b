"""PlannerService: protos in, domain calls, protos out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from services.planner.flows import Media
from services.planner.planner import ComposeInput, PlanInput, Planner
from services.planner.plans import MissingSlots, Offer, Plan, Step, StepResult, Usage
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import InvalidArgument, Unavailable
from switchboard.v1 import common_pb2, planner_pb2, planner_pb2_grpc

Context = aio.ServicerContext[Any, Any]

_MEDIA = {
    "image": common_pb2.MEDIA_KIND_IMAGE,
    "video": common_pb2.MEDIA_KIND_VIDEO,
    "form": common_pb2.MEDIA_KIND_FORM,
    "card": common_pb2.MEDIA_KIND_CARD,
}
#: the verdicts that refuse a step whatever the customer answers, strictest first
_REFUSALS = (common_pb2.POLICY_ACTION_BLOCK, common_pb2.POLICY_ACTION_HANDOFF)
_OUTCOMES = {
    common_pb2.STEP_OUTCOME_SUCCEEDED: "succeeded",
    common_pb2.STEP_OUTCOME_FAILED: "failed",
    common_pb2.STEP_OUTCOME_REJECTED: "rejected",
    common_pb2.STEP_OUTCOME_TIMED_OUT: "timed_out",
    common_pb2.STEP_OUTCOME_SKIPPED: "skipped",
    common_pb2.STEP_OUTCOME_UNAVAILABLE: "unavailable",
}


class PlannerServicer(planner_pb2_grpc.PlannerServiceServicer):
    """Maps the PlannerService RPCs onto the :class:`Planner`."""

    def __init__(self, planner: Planner | None = None) -> None:
        #: set once the service has started; calls before that are UNAVAILABLE
        self.planner = planner

    @property
    def _planner(self) -> Planner:
        if self.planner is None:
            raise Unavailable("the planner is starting: its flows are not loaded yet")
        return self.planner

    async def Plan(
        self, request: planner_pb2.PlanRequest, context: Context
    ) -> AsyncIterator[planner_pb2.PlanResponse]:
        async for item in self._planner.plan(plan_input(request)):
            if isinstance(item, Step):
                yield planner_pb2.PlanResponse(step=step_to_proto(item))
                continue
            yield planner_pb2.PlanResponse(plan=plan_to_proto(item))

    async def Compose(
        self, request: planner_pb2.ComposeRequest, context: Context
    ) -> AsyncIterator[planner_pb2.ComposeResponse]:
        if not request.HasField("plan"):
            raise InvalidArgument("Compose needs the plan it replies for")
        composing = ComposeInput(
            plan=plan_from_proto(request.plan),
            results=[result_from_proto(r) for r in request.results],
            intent=request.intent.name,
            text=request.text,
            session_id=request.session_id,
            turn_id=request.turn_id,
            awaiting_confirmation=request.awaiting_confirmation,
            resumable=request.resumable,
        )
        async for item in self._planner.compose(composing):
            if isinstance(item, str):
                if item:
                    yield planner_pb2.ComposeResponse(text_delta=item)
            elif isinstance(item, Media):
                yield planner_pb2.ComposeResponse(rich_media=media_to_proto(item))
            elif isinstance(item, MissingSlots):
                missing = planner_pb2.MissingSlots(flow=item.flow, slots=item.slots, keep=item.keep)
                yield planner_pb2.ComposeResponse(missing_slots=missing)
            elif isinstance(item, Offer):
                offer = planner_pb2.Offer(intent=item.intent, say=item.say)
                yield planner_pb2.ComposeResponse(offer=offer)
            elif isinstance(item, Usage):
                yield planner_pb2.ComposeResponse(usage=usage_to_proto(item))


def plan_input(request: planner_pb2.PlanRequest) -> PlanInput:
    if not request.intent.name:
        raise InvalidArgument("PlanRequest.intent.name is required")
    if request.tier not in ("", "fast", "deep"):
        raise InvalidArgument(
            f"PlanRequest.tier must be '', 'fast' or 'deep', not {request.tier!r}"
        )
    return PlanInput(
        intent=request.intent.name,
        confidence=request.intent.confidence,
        text=request.text,
        session_id=request.session_id,
        turn_id=request.turn_id,
        candidates=[(c.name, c.confidence) for c in request.candidates],
        slots=dict(request.slots),
        customer_id=request.customer_id,
        history=[(h.role, h.text) for h in request.history],
        tier=request.tier,
        pending_flow=request.pending_flow,
        intents=list(request.intents),
        only_if_answered=request.only_if_answered,
        clarified_text=request.clarified_text,
        follow_up=request.follow_up,
        again=request.again,
    )


def step_to_proto(step: Step) -> common_pb2.PlanStep:
    return common_pb2.PlanStep(
        id=step.id,
        tool=step.tool,
        arguments=dict_to_struct(step.arguments),
        depends_on=list(step.depends_on),
        description=step.description,
    )


def step_from_proto(step: common_pb2.PlanStep) -> Step:
    return Step(
        id=step.id,
        tool=step.tool,
        arguments=struct_to_dict(step.arguments),
        depends_on=tuple(step.depends_on),
        description=step.description,
    )


def plan_to_proto(plan: Plan) -> common_pb2.Plan:
    return common_pb2.Plan(
        id=plan.id,
        steps=[step_to_proto(s) for s in plan.steps],
        flow=plan.flow,
        tier=plan.tier,
        missing_slots=plan.missing_slots,
        slots=plan.slots,
        fallback_reason=plan.fallback_reason,
        usage=[usage_to_proto(u) for u in plan.usage],
        aside=plan.aside,
    )


def plan_from_proto(plan: common_pb2.Plan) -> Plan:
    return Plan(
        id=plan.id,
        steps=[step_from_proto(s) for s in plan.steps],
        flow=plan.flow,
        tier=plan.tier,
        missing_slots=list(plan.missing_slots),
        slots=dict(plan.slots),
        aside=plan.aside,
    )


def result_from_proto(result: common_pb2.StepResult) -> StepResult:
    # A model composing the reply reads `error`: a held or refused step's is the policy's
    # customer-facing message rather than the audit reason.
    message = next(
        (
            v.message
            for v in result.verdicts
            if v.action != common_pb2.POLICY_ACTION_ALLOW and v.message
        ),
        "",
    )
    return StepResult(
        step_id=result.step_id,
        tool=result.tool,
        outcome=_OUTCOMES.get(result.outcome, "failed"),
        result=struct_to_dict(result.result),
        error=message or result.error,
        http_status=result.http_status,
        refusal=refused.message if (refused := refusing_verdict(result)) else "",
        refused_by=refused.rule_id if refused else "",
        arguments=struct_to_dict(result.arguments),
    )


def refusing_verdict(result: common_pb2.StepResult) -> common_pb2.PolicyVerdict | None:
    """The verdict of the policy that refused the step (its customer-facing message and rule), or
    None.

    Only a rejected step's block or hand-off counts (the strictest first): those are what a
    customer's "yes" cannot lift. A confirmation the router asks for instead is no refusal, and a
    contract check's verdict carries no message for the customer.
    """
    if result.outcome != common_pb2.STEP_OUTCOME_REJECTED:
        return None
    for action in _REFUSALS:
        for verdict in result.verdicts:
            if verdict.action == action and verdict.message:
                return verdict
    return None


def media_to_proto(media: Media) -> common_pb2.RichMedia:
    return common_pb2.RichMedia(
        kind=_MEDIA[media.kind],
        title=media.title,
        uri=media.uri,
        data=dict_to_struct(media.data),
        alt_text=media.alt_text,
        step_id=media.step_id,
    )


def usage_to_proto(usage: Usage) -> common_pb2.TokenUsage:
    return common_pb2.TokenUsage(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, model=usage.model
    )
