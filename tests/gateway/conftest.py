from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_fakes import CollectorStandIn, RouterStandIn
from gateway_support import running_gateway
from harness import LoopThread, start_service

from services.gateway_runner import Gateway, build_descriptor_set
from services.runtime.server import GrpcServer


@pytest.fixture(scope="session")
def descriptor() -> Path:
    return build_descriptor_set()


@pytest.fixture(scope="module")
def router_stand_in(loop_thread: LoopThread) -> Iterator[tuple[RouterStandIn, GrpcServer]]:
    router = RouterStandIn()
    server = start_service(loop_thread, router)
    yield router, server
    loop_thread.run(server.stop())


@pytest.fixture(scope="module")
def collector(loop_thread: LoopThread) -> Iterator[tuple[CollectorStandIn, GrpcServer]]:
    collector = CollectorStandIn()
    server = start_service(loop_thread, collector)
    yield collector, server
    loop_thread.run(server.stop())


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    router_stand_in: tuple[RouterStandIn, GrpcServer],
    collector: tuple[CollectorStandIn, GrpcServer],
    descriptor: Path,
) -> Iterator[Gateway]:
    """Envoy in front of the stand-in router, sending its spans to the stand-in collector."""
    yield from running_gateway(
        tmp_path_factory.mktemp("gateway"),
        router_stand_in[1].target,
        otlp_endpoint=collector[1].target,
    )
