from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import LoopThread
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.config import SERVICES, Settings, load_settings
from services.mesh import Mesh, start_mesh

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
    HTTPXClientInstrumentor().instrument()


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


def ephemeral_settings(data_dir: Path) -> Settings:
    """Default settings with every port picked by the OS, so tests never collide."""
    settings = load_settings(data_dir=str(data_dir))
    for name in SERVICES:
        settings.service(name).port = 0
        settings.service(name).stop_grace_s = 0.5
    settings.mocks.ports = dict.fromkeys(settings.mocks.ports, 0)
    settings.telemetry.local_dir = ""
    # The embedded engine, whatever OPENAI_* variables the environment holds: tests never call
    # a real model. Tests of the model tiers configure the scripted model server explicitly.
    settings.planner.model.enabled = False
    return settings


@pytest.fixture(scope="session")
def mesh(loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The whole mesh, mocks included, on ephemeral loopback ports."""
    settings = ephemeral_settings(tmp_path_factory.mktemp("mesh"))
    running = loop_thread.run(start_mesh(settings), timeout=180)
    yield running
    loop_thread.run(running.stop())
