"""The governance and pii services as the broker's domain sees them, over gRPC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grpc import aio

from services.runtime.convert import dict_to_struct, struct_to_dict
from services.tool_broker.model import CallContext, JsonObject, PeerUnavailable, Step, Verdict
from switchboard.v1 import (
    common_pb2,
    governance_pb2,
    governance_pb2_grpc,
    pii_pb2,
    pii_pb2_grpc,
)

_ACTION_PREFIX = "POLICY_ACTION_"


def verdict_from_proto(verdict: common_pb2.PolicyVerdict) -> Verdict:
    """A PolicyVerdict as a domain verdict; an unset action never allows anything."""
    action = common_pb2.PolicyAction.Name(verdict.action).removeprefix(_ACTION_PREFIX)
    return Verdict(action, verdict.rule_id, verdict.reason, verdict.message)


def step_to_proto(step: Step) -> common_pb2.PlanStep:
    return common_pb2.PlanStep(
        id=step.id,
        tool=step.tool,
        arguments=dict_to_struct(step.arguments),
        depends_on=list(step.depends_on),
        description=step.description,
    )


def _failure(peer: str, error: aio.AioRpcError) -> PeerUnavailable:
    return PeerUnavailable(f"{peer}: {error.code().name}: {error.details()}")


class GrpcToolCallPolicy:
    """governance.CheckToolCall."""

    def __init__(self, channel: aio.Channel, timeout_s: float) -> None:
        self._stub = governance_pb2_grpc.GovernanceServiceStub(channel)
        self._timeout_s = timeout_s

    async def check(
        self, context: CallContext, step: Step, calls_in_turn: int
    ) -> tuple[Verdict, Sequence[Verdict]]:
        request = governance_pb2.CheckToolCallRequest(
            session_id=context.session_id,
            turn_id=context.turn_id,
            step=step_to_proto(step),
            calls_in_turn=calls_in_turn,
            session=dict_to_struct(dict(context.session)),
        )
        try:
            response = await self._stub.CheckToolCall(request, timeout=self._timeout_s)
        except aio.AioRpcError as error:
            raise _failure("governance", error) from None
        return verdict_from_proto(response.verdict), [
            verdict_from_proto(v) for v in response.matched
        ]


class GrpcPiiVault:
    """pii.Restore and pii.RedactData."""

    def __init__(self, channel: aio.Channel, timeout_s: float) -> None:
        self._stub = pii_pb2_grpc.PiiServiceStub(channel)
        self._timeout_s = timeout_s

    async def restore(
        self, session_id: str, data: Mapping[str, Any], allowed_types: frozenset[str]
    ) -> tuple[JsonObject, Sequence[str]]:
        request = pii_pb2.RestoreRequest(
            session_id=session_id,
            data=dict_to_struct(dict(data)),
            allowed_types=sorted(allowed_types),
        )
        try:
            response = await self._stub.Restore(request, timeout=self._timeout_s)
        except aio.AioRpcError as error:
            raise _failure("pii", error) from None
        return struct_to_dict(response.data), list(response.refused)

    async def redact(self, session_id: str, data: Mapping[str, Any]) -> JsonObject:
        request = pii_pb2.RedactDataRequest(session_id=session_id, data=dict_to_struct(dict(data)))
        try:
            response = await self._stub.RedactData(request, timeout=self._timeout_s)
        except aio.AioRpcError as error:
            raise _failure("pii", error) from None
        return struct_to_dict(response.data)
