"""The tool-broker service: its catalogue, backend clients and peers, served over gRPC."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from grpc import aio

from services.catalogue import Catalogue
from services.config import Settings
from services.runtime.clients import channel
from services.tool_broker.backends import BackendClient
from services.tool_broker.broker import Broker
from services.tool_broker.peers import GrpcPiiVault, GrpcToolCallPolicy
from services.tool_broker.servicer import ToolBrokerServicer
from switchboard.v1 import tool_broker_pb2_grpc

log = logging.getLogger(__name__)


class ToolBrokerService:
    """Loads the catalogue at start (a broken or missing contract stops the start)."""

    name: str = "tool-broker"
    service_names: Sequence[str] = ("switchboard.v1.ToolBrokerService",)

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._servicer = ToolBrokerServicer()
        self._channels: list[aio.Channel] = []
        self._backends: dict[str, BackendClient] = {}
        self.broker: Broker | None = None

    def register(self, server: aio.Server) -> None:
        tool_broker_pb2_grpc.add_ToolBrokerServiceServicer_to_server(self._servicer, server)

    async def start(self) -> None:
        settings = self._settings.tool_broker
        catalogue = Catalogue.load(settings.backends)
        self._backends = {
            name: BackendClient(name, backend, settings)
            for name, backend in settings.backends.items()
        }
        governance = channel(self._settings.governance.target)
        pii = channel(self._settings.pii.target)
        self._channels = [governance, pii]
        self.broker = Broker(
            settings,
            catalogue,
            self._backends,
            GrpcToolCallPolicy(governance, settings.peer_timeout_s),
            GrpcPiiVault(pii, settings.peer_timeout_s),
        )
        self._servicer.broker = self.broker
        log.info(
            "tool catalogue: %d tools from %d backends",
            len(catalogue.tools()),
            len(settings.backends),
        )

    async def stop(self) -> None:
        for client in self._backends.values():
            await client.close()
        for peer in self._channels:
            await peer.close(None)


def build(settings: Settings) -> ToolBrokerService:
    """The tool-broker service, configured by ``settings``."""
    return ToolBrokerService(settings)
