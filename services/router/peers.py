"""The router's clients for the other services, with failures turned into one typed error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import grpc
from grpc import aio

from services.runtime.clients import channel
from switchboard.v1 import (
    governance_pb2_grpc,
    pii_pb2_grpc,
    planner_pb2_grpc,
    session_pb2_grpc,
    tool_broker_pb2_grpc,
)

T = TypeVar("T")


class DependencyFailure(Exception):
    """A call to another service of the mesh failed."""

    def __init__(self, service: str, code: str, details: str) -> None:
        super().__init__(f"{service}: {code}: {details}")
        self.service = service
        self.code = code
        self.details = details


def _failure(service: str, error: aio.AioRpcError) -> DependencyFailure:
    code = error.code()
    return DependencyFailure(service, code.name if code else "UNKNOWN", error.details() or "")


async def unary(service: str, call: aio.UnaryUnaryCall[Any, T]) -> T:
    """Await a unary call; an RPC error becomes DependencyFailure."""
    try:
        return await call
    except aio.AioRpcError as error:
        raise _failure(service, error) from error


async def stream(service: str, call: Any) -> AsyncIterator[Any]:
    """Iterate a streaming call; an RPC error becomes DependencyFailure."""
    try:
        async for item in call:
            yield item
    except aio.AioRpcError as error:
        raise _failure(service, error) from error


class Peers:
    """Channels and stubs for every service the router calls."""

    def __init__(
        self, *, session: str, pii: str, governance: str, planner: str, tool_broker: str
    ) -> None:
        self._channels = {
            "session": channel(session),
            "pii": channel(pii),
            "governance": channel(governance),
            "planner": channel(planner),
            "tool-broker": channel(tool_broker),
        }
        self.session = session_pb2_grpc.SessionServiceStub(self._channels["session"])
        self.pii = pii_pb2_grpc.PiiServiceStub(self._channels["pii"])
        self.governance = governance_pb2_grpc.GovernanceServiceStub(self._channels["governance"])
        self.planner = planner_pb2_grpc.PlannerServiceStub(self._channels["planner"])
        self.tool_broker = tool_broker_pb2_grpc.ToolBrokerServiceStub(self._channels["tool-broker"])

    def state(self) -> dict[str, grpc.ChannelConnectivity]:
        """Each peer's channel state, for diagnostics."""
        return {name: ch.get_state() for name, ch in self._channels.items()}

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close(None)
