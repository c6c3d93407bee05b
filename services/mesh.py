"""Starting services by name, alone (as a pod runs one) or the whole mesh in one process."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from services.config import SERVICES, Settings
from services.runtime.server import GrpcServer, Service

log = logging.getLogger(__name__)

#: the order services start in: each one's dependencies are up before it
START_ORDER = ("pii", "governance", "session", "tool_broker", "planner", "router")
assert sorted(START_ORDER) == sorted(SERVICES)

#: Python name -> the name used in Kubernetes, telemetry and the CLI
KUBE_NAMES = {name: name.replace("_", "-") for name in SERVICES}


def build_service(name: str, settings: Settings) -> Service:
    """The service called ``name`` ("tool_broker"), built from the settings."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{name}.service")
    service: Service = module.build(settings)
    return service


def server_for(name: str, settings: Settings) -> GrpcServer:
    """A server for the named service on its configured address."""
    section = settings.service(name)
    return GrpcServer(
        build_service(name, settings), section.host, section.port, section.stop_grace_s
    )


@dataclass
class Mesh:
    """Every service, and optionally the mocks, running in this process."""

    settings: Settings
    servers: dict[str, GrpcServer] = field(default_factory=dict)
    mocks: Any = None

    async def stop(self) -> None:
        for name in reversed(START_ORDER):
            server = self.servers.get(name)
            if server is not None:
                await server.stop()
        if self.mocks is not None:
            await self.mocks.stop()

    def target(self, name: str) -> str:
        return self.servers[name].target


async def start_mesh(settings: Settings, *, mocks: bool = True) -> Mesh:
    """Start the mocks and the six services in dependency order.

    A port of 0 picks a free one; the settings are updated with the bound ports as services come
    up, so every later service dials the right address.
    """
    mesh = Mesh(settings)
    try:
        if mocks:
            from mocks.server import start_mocks

            mesh.mocks = await start_mocks(settings.mocks)
            settings.mocks.ports.update(mesh.mocks.ports)
            for backend, url in mesh.mocks.base_urls.items():
                if backend in settings.tool_broker.backends:
                    settings.tool_broker.backends[backend].base_url = url
        for name in START_ORDER:
            server = server_for(name, settings)
            await server.start()
            mesh.servers[name] = server
            section = settings.service(name)
            section.port = server.port
            section.address = ""
    except BaseException:
        await mesh.stop()
        raise
    return mesh
