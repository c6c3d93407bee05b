"""ToolBrokerService: protos in, domain calls, protos out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from services.catalogue import ToolSpec
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import InvalidArgument, Unavailable
from services.tool_broker.broker import Broker
from services.tool_broker.model import (
    CallContext,
    PlanEvent,
    Step,
    StepFinished,
    StepResult,
    Verdict,
)
from switchboard.v1 import common_pb2, events_pb2, tool_broker_pb2, tool_broker_pb2_grpc

_MEDIA = {
    "image": common_pb2.MEDIA_KIND_IMAGE,
    "video": common_pb2.MEDIA_KIND_VIDEO,
    "form": common_pb2.MEDIA_KIND_FORM,
    "card": common_pb2.MEDIA_KIND_CARD,
}

Context = aio.ServicerContext[Any, Any]


class ToolBrokerServicer(tool_broker_pb2_grpc.ToolBrokerServiceServicer):
    """Maps the ToolBrokerService RPCs onto the :class:`Broker`."""

    def __init__(self, broker: Broker | None = None) -> None:
        #: set once the service has started; calls before that are UNAVAILABLE
        self.broker = broker

    @property
    def _broker(self) -> Broker:
        if self.broker is None:
            raise Unavailable("the tool-broker is starting: its catalogue is not loaded yet")
        return self.broker

    async def ListTools(
        self, request: tool_broker_pb2.ListToolsRequest, context: Context
    ) -> tool_broker_pb2.ListToolsResponse:
        tools = self._broker.tools(request.backend)
        return tool_broker_pb2.ListToolsResponse(tools=[tool_to_proto(t) for t in tools])

    async def ExecuteTool(
        self, request: tool_broker_pb2.ExecuteToolRequest, context: Context
    ) -> tool_broker_pb2.ExecuteToolResponse:
        if not request.HasField("step") or not request.step.tool:
            raise InvalidArgument("ExecuteTool needs a step with a tool name")
        result = await self._broker.execute_tool(_context(request), step_from_proto(request.step))
        return tool_broker_pb2.ExecuteToolResponse(result=result_to_proto(result))

    async def ExecutePlan(
        self, request: tool_broker_pb2.ExecutePlanRequest, context: Context
    ) -> AsyncIterator[tool_broker_pb2.ExecutePlanResponse]:
        steps = [step_from_proto(step) for step in request.plan.steps]
        async for event in self._broker.execute_plan(_context(request), steps):
            yield event_to_proto(event)


def _context(
    request: tool_broker_pb2.ExecuteToolRequest | tool_broker_pb2.ExecutePlanRequest,
) -> CallContext:
    plan_id = request.plan.id if isinstance(request, tool_broker_pb2.ExecutePlanRequest) else ""
    return CallContext(
        session_id=request.session_id,
        turn_id=request.turn_id,
        plan_id=plan_id,
        session=struct_to_dict(request.session) if request.HasField("session") else {},
    )


def step_from_proto(step: common_pb2.PlanStep) -> Step:
    return Step(
        id=step.id,
        tool=step.tool,
        arguments=struct_to_dict(step.arguments),
        depends_on=tuple(step.depends_on),
        description=step.description,
    )


def tool_to_proto(spec: ToolSpec) -> tool_broker_pb2.Tool:
    return tool_broker_pb2.Tool(
        name=spec.name,
        description=spec.description,
        backend=spec.backend,
        method=spec.method,
        path=spec.path,
        parameters=dict_to_struct(spec.parameters),
        read_only=spec.read_only,
        requires_confirmation=spec.confirm,
        media=_MEDIA.get(spec.media or "", common_pb2.MEDIA_KIND_UNSPECIFIED),
    )


def verdict_to_proto(verdict: Verdict) -> common_pb2.PolicyVerdict:
    name = "POLICY_ACTION_" + verdict.action
    action = name if name in common_pb2.PolicyAction.keys() else "POLICY_ACTION_UNSPECIFIED"
    return common_pb2.PolicyVerdict(
        stage=common_pb2.POLICY_STAGE_TOOL_CALL,
        action=action,
        rule_id=verdict.rule_id,
        reason=verdict.reason,
        message=verdict.message,
    )


def result_to_proto(result: StepResult) -> common_pb2.StepResult:
    message = common_pb2.StepResult(
        step_id=result.step_id,
        tool=result.tool,
        outcome="STEP_OUTCOME_" + result.outcome.value,
        error=result.error,
        attempts=result.attempts,
        http_status=result.http_status,
        verdicts=[verdict_to_proto(v) for v in result.verdicts],
    )
    message.latency.FromNanoseconds(round(result.latency_s * 1e9))
    if result.result is not None:
        message.result.CopyFrom(dict_to_struct(result.result))
    if result.arguments is not None:
        message.arguments.CopyFrom(dict_to_struct(result.arguments))
    return message


def event_to_proto(event: PlanEvent) -> tool_broker_pb2.ExecutePlanResponse:
    if isinstance(event, StepFinished):
        return tool_broker_pb2.ExecutePlanResponse(
            step_finished=events_pb2.StepFinished(result=result_to_proto(event.result))
        )
    return tool_broker_pb2.ExecutePlanResponse(
        step_started=events_pb2.StepStarted(
            step_id=event.step_id, tool=event.tool, arguments=dict_to_struct(event.arguments)
        )
    )
