"""The planner service: flows, prompts and model tiers, served over gRPC."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from grpc import aio

from services.config import Settings
from services.planner.flows import FlowBook
from services.planner.llm import ModelClient
from services.planner.planner import Planner
from services.planner.prompts import Prompts
from services.planner.servicer import PlannerServicer
from services.planner.tiers import ModelTiers
from services.planner.tools import ToolIndex
from switchboard.v1 import planner_pb2_grpc

log = logging.getLogger(__name__)


class PlannerService:
    """Loads the catalogue, flows and prompts at start; a mistake in any stops the start."""

    name = "planner"
    service_names: Sequence[str] = ("switchboard.v1.PlannerService",)

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._servicer = PlannerServicer()
        self._client: ModelClient | None = None
        self.planner: Planner | None = None

    def register(self, server: aio.Server) -> None:
        planner_pb2_grpc.add_PlannerServiceServicer_to_server(self._servicer, server)

    async def start(self) -> None:
        settings = self._settings.planner
        tools = ToolIndex.load(self._settings.tool_broker.backends)
        flows = FlowBook.load(settings.flows_dir, tools)
        prompts = Prompts.load(settings.prompts_dir, settings.prompt_version)
        tiers = None
        if settings.model.configured:
            self._client = ModelClient(settings.model)
            tiers = ModelTiers(self._client, settings.model, tools, prompts, settings.brand)
            log.info(
                "planner: models %s (fast) and %s (deep) at %s, prompts %s",
                settings.model.fast_model,
                settings.model.deep_model,
                settings.model.resolved_base_url() or "the OpenAI API",
                prompts.version,
            )
        else:
            log.info("planner: no model configured; the embedded engine answers every turn")
        self.planner = Planner(settings, flows, tools, tiers)
        self._servicer.planner = self.planner
        log.info("planner: %d flows, %d tools", len(flows.names()), len(tools.names()))

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()


def build(settings: Settings) -> PlannerService:
    """The planner service, configured by ``settings``."""
    return PlannerService(settings)
