"""Shared test support for the planner: a scripted model server and planner servers on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import uvicorn
from harness import LoopThread, start_service

from mocks.model import ScriptedModel, create_app
from services.config import load_settings
from services.planner.service import PlannerService, build
from services.runtime.server import GrpcServer
from switchboard.v1 import common_pb2, planner_pb2, planner_pb2_grpc


class ModelServer:
    """The scripted OpenAI-compatible server, served by uvicorn on 127.0.0.1 with a free port."""

    def __init__(self, loop: LoopThread) -> None:
        self.loop = loop
        self.model = ScriptedModel()
        config = uvicorn.Config(
            create_app(self.model), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task

    def start(self) -> ModelServer:
        self.loop.run(self._start())
        return self

    def stop(self) -> None:
        self.loop.run(self._stop())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def planner_settings(**model: Any) -> Any:
    """Settings for a planner; ``model`` fields configure the model tiers (none: no model)."""
    planner: dict[str, Any] = {"model": model} if model else {"model": {"enabled": False}}
    return load_settings(planner=planner)


def start_planner(loop: LoopThread, **model: Any) -> tuple[GrpcServer, PlannerService]:
    service = build(planner_settings(**model))
    return start_service(loop, service), service


def stub(server: GrpcServer) -> tuple[grpc.Channel, planner_pb2_grpc.PlannerServiceStub]:
    channel = grpc.insecure_channel(server.target)
    return channel, planner_pb2_grpc.PlannerServiceStub(channel)  # type: ignore[no-untyped-call]


def plan_request(
    text: str, intent: str, confidence: float = 0.9, **fields: Any
) -> planner_pb2.PlanRequest:
    return planner_pb2.PlanRequest(
        session_id="s-1",
        turn_id="t-1",
        text=text,
        intent=common_pb2.IntentScore(name=intent, confidence=confidence),
        **fields,
    )


def run_plan(
    client: planner_pb2_grpc.PlannerServiceStub, request: planner_pb2.PlanRequest
) -> tuple[list[common_pb2.PlanStep], common_pb2.Plan]:
    """The streamed steps and the final plan."""
    call = client.Plan(request, timeout=30)
    items = list(call)
    steps = [i.step for i in items if i.WhichOneof("item") == "step"]
    plans = [i.plan for i in items if i.WhichOneof("item") == "plan"]
    assert len(plans) == 1, items
    assert items[-1].WhichOneof("item") == "plan"
    return steps, plans[0]


def run_compose(
    client: planner_pb2_grpc.PlannerServiceStub, request: planner_pb2.ComposeRequest
) -> tuple[str, list[str], list[common_pb2.RichMedia], common_pb2.TokenUsage]:
    """The reply text, its deltas, the media, and the usage (checked to be last)."""
    items = list(client.Compose(request, timeout=30))
    assert items and items[-1].WhichOneof("item") == "usage", items
    deltas = [i.text_delta for i in items if i.WhichOneof("item") == "text_delta"]
    media = [i.rich_media for i in items if i.WhichOneof("item") == "rich_media"]
    return "".join(deltas), deltas, media, items[-1].usage
