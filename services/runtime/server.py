"""The one server bootstrap every service uses.

A :class:`Service` brings its servicers and its start/stop work; :class:`GrpcServer` adds the
rest: grpc.aio, interceptors (tracing, deadline, error mapping), gRPC health that reports
NOT_SERVING until the service is ready and again as soon as it begins to stop, server
reflection, and a graceful stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from services.runtime.interceptors import ServerContextInterceptor

log = logging.getLogger(__name__)

_SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
]


class Service(Protocol):
    """What a service brings to the bootstrap."""

    #: the name used in Kubernetes, telemetry and logs, for example "tool-broker"
    name: str
    #: the fully qualified gRPC services it serves, for example "switchboard.v1.ToolBrokerService"
    service_names: Sequence[str]

    def register(self, server: aio.Server) -> None:
        """Add the servicers to the server."""

    async def start(self) -> None:
        """Do what must happen before the service reports SERVING (open stores, load packs)."""

    async def stop(self) -> None:
        """Release what start acquired, after the server has stopped taking calls."""


class GrpcServer:
    """One service on one port."""

    def __init__(self, service: Service, host: str, port: int, stop_grace_s: float = 5.0) -> None:
        self.service = service
        self.host = host
        self.requested_port = port
        self.stop_grace_s = stop_grace_s
        self.port = 0
        self._health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        self._server: aio.Server | None = None
        self._stopped = asyncio.Event()

    @property
    def target(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::", "[::]") else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        """Bind, start, run the service's start work, then report SERVING."""
        server = aio.server(
            interceptors=[aio_server_interceptor(), ServerContextInterceptor()],  # type: ignore[no-untyped-call]
            options=_SERVER_OPTIONS,
        )
        self.service.register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = [*self.service.service_names, health.SERVICE_NAME]
        reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
        self.port = server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if self.port == 0:
            raise OSError(f"{self.service.name}: cannot bind {self.host}:{self.requested_port}")
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.start()
        self._server = server
        await self.service.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("%s serving on %s", self.service.name, self.target)

    async def stop(self) -> None:
        """Report NOT_SERVING, let in-flight calls finish within the grace, then stop."""
        if self._server is None or self._stopped.is_set():
            return
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._server.stop(self.stop_grace_s)
        await self.service.stop()
        self._stopped.set()
        log.info("%s stopped", self.service.name)

    async def wait(self) -> None:
        """Return once the server has stopped."""
        await self._stopped.wait()

    async def _set_health(self, status: int) -> None:
        for name in ("", *self.service.service_names):
            await self._health.set(name, status)


async def run_until_signalled(servers: Sequence[GrpcServer]) -> None:
    """Start the servers, serve until SIGINT or SIGTERM, then stop them gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[GrpcServer] = []
    try:
        for server in servers:
            await server.start()
            started.append(server)
        await stop.wait()
    finally:
        for server in reversed(started):
            await server.stop()
