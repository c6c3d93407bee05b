from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import LoopThread, ephemeral_settings
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis_server import RedisServer

from services.mesh import Mesh, start_mesh
from services.runtime.telemetry import instrument_http_clients

#: every span the in-process servers of the test session finish
SPANS = InMemorySpanExporter()
#: every metric they record
METRICS = InMemoryMetricReader()


def pytest_configure(config: pytest.Config) -> None:
    # Real trace ids and a span record for every in-process server, as a service process has.
    provider = TracerProvider(resource=Resource.create({"service.name": "switchboard-tests"}))
    provider.add_span_processor(SimpleSpanProcessor(SPANS))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(resource=provider.resource, metric_readers=[METRICS]))
    instrument_http_clients()


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    """One background event loop for the servers of the whole test session."""
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    """The reader holding every metric of the session."""
    return METRICS


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """The exporter holding every finished span of the session."""
    return SPANS


@pytest.fixture(scope="session")
def mesh(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The whole mesh, mocks included, on ephemeral loopback ports."""
    settings = ephemeral_settings(tmp_path_factory.mktemp("mesh"))
    running = loop_thread.run(start_mesh(settings), timeout=180)
    yield running
    loop_thread.run(running.stop())


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the tests of one module."""
    running = RedisServer(tmp_path_factory.mktemp("redis"))
    running.start()
    yield running
    running.stop()
