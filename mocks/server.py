"""Run the mock backends on uvicorn inside the current event loop.

Each backend gets a socket bound here, so port 0 works and the real port is known before the
first request. Signals are left to the caller: several servers in one loop cannot each own
SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import math
import socket
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette

from mocks.config import BACKENDS, MocksSettings
from mocks.world import World, build_world

logger = logging.getLogger(__name__)

MODEL = "model"


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to whoever runs the loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class _Running:
    server: _EmbeddedServer
    sock: socket.socket
    task: asyncio.Task[None]
    app: Starlette


@dataclass
class MockCluster:
    """The running backends: where they answer, their apps, and how to stop them."""

    world: World | None
    _running: dict[str, _Running] = field(default_factory=dict)

    @property
    def ports(self) -> dict[str, int]:
        return {name: int(run.sock.getsockname()[1]) for name, run in self._running.items()}

    @property
    def base_urls(self) -> dict[str, str]:
        urls = {}
        for name, run in self._running.items():
            host, port = run.sock.getsockname()[:2]
            host = "127.0.0.1" if host in ("0.0.0.0", "") else host
            host = "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
            urls[name] = f"http://{host}:{port}"
        return urls

    @property
    def apps(self) -> dict[str, Starlette]:
        return {name: run.app for name, run in self._running.items()}

    async def stop(self) -> None:
        """Stop every backend; in-flight requests get the configured grace period."""
        for run in self._running.values():
            run.server.should_exit = True
        await asyncio.gather(*(run.task for run in self._running.values()), return_exceptions=True)
        for run in self._running.values():
            run.sock.close()
        self._running.clear()


def available_backends() -> list[str]:
    """The five enterprise backends, plus the scripted model server when it is present."""
    names = list(BACKENDS)
    if importlib.util.find_spec("mocks.model.app") is not None:
        module = importlib.import_module("mocks.model.app")
        if callable(getattr(module, "create_app", None)):
            names.append(MODEL)
    return names


def create_backend_app(name: str, settings: MocksSettings, world: World | None) -> Starlette:
    """The app of one backend by name."""
    if name not in (*BACKENDS, MODEL):
        raise ValueError(f"unknown mock backend {name!r}; known: {[*BACKENDS, MODEL]}")
    module = importlib.import_module(f"mocks.{name}.app")
    if name == MODEL:
        app: Starlette = module.create_app()
        return app
    kwargs: dict[str, Any] = {
        "faults": settings.faults.get(name),
        "validate_responses": settings.validate_responses,
    }
    if name != "knowledge":
        kwargs["world"] = world
    created: Starlette = module.create_app(**kwargs)
    return created


async def start_mocks(settings: MocksSettings, names: Iterable[str] | None = None) -> MockCluster:
    """Start the named backends (default: all available) and return once all accept requests."""
    chosen = list(names) if names is not None else available_backends()
    unknown = set(chosen) - {*BACKENDS, MODEL}
    if unknown:
        raise ValueError(f"unknown mock backends {sorted(unknown)}")
    needs_world = any(name not in ("knowledge", MODEL) for name in chosen)
    world = (
        build_world(settings.seed, settings.customers, settings.members, settings.now)
        if needs_world
        else None
    )
    cluster = MockCluster(world=world)
    try:
        for name in chosen:
            app = create_backend_app(name, settings, world)
            port = settings.ports.get(name)
            if port is None:
                raise ValueError(f"no port configured for mock backend {name!r}")
            sock = _bind(settings.host, port)
            config = uvicorn.Config(
                app,
                access_log=False,
                log_config=None,
                # uvicorn takes whole seconds, and 0 would report every stop as overdue.
                timeout_graceful_shutdown=max(1, math.ceil(settings.stop_grace_s)),
                lifespan="off",
            )
            server = _EmbeddedServer(config)
            task = asyncio.create_task(server.serve(sockets=[sock]), name=f"mock-{name}")
            cluster._running[name] = _Running(server, sock, task, app)
            await _started(name, server, task)
            logger.info("mock %s listening on %s", name, cluster.base_urls[name])
    except BaseException:
        await cluster.stop()
        raise
    return cluster


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle's algorithm off (TCP_NODELAY) on accepted
    # connections only for sockets it can tell are TCP, and with protocol 0 it cannot; every
    # request after the first on a keep-alive connection then waits for a delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot bind {host}:{port}: {error.strerror}") from error
    sock.set_inheritable(True)
    return sock


async def _started(name: str, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    # uvicorn exposes readiness only as a flag; it flips within a few loop iterations.
    while not server.started:
        if task.done():
            error = task.exception() if not task.cancelled() else None
            raise RuntimeError(f"mock {name} failed to start: {error!r}")
        await asyncio.sleep(0.005)
