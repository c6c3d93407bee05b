"""Tracing, metrics and logging set-up, once per process.

Spans and metrics go to an OTLP/gRPC collector when one is configured, and to local JSON-lines
files (``switchboard trace`` reads the spans). Logs carry the current trace and span ids.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

_configured = False


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [span.to_json(indent=None) for span in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class _TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        record.span_id = format(context.span_id, "016x") if context.is_valid else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, with the trace context."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger for a service process."""
    handler = logging.StreamHandler()
    handler.addFilter(_TraceContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _without_query(span: Any, request: Any) -> None:
    # Backend calls carry restored (real) values; a query string can hold an email or a card.
    # The span keeps the scheme, host and path only.
    if span is None or not span.is_recording():
        return
    url = httpx.URL(str(request.url)).copy_with(query=None)
    span.set_attribute("url.full", str(url))
    span.set_attribute("http.url", str(url))


def instrument_http_clients() -> None:
    """Trace every httpx client (backend calls) as a child of the span that makes the call."""
    HTTPXClientInstrumentor().instrument(
        request_hook=_without_query, async_request_hook=_async_without_query
    )


async def _async_without_query(span: Any, request: Any) -> None:
    _without_query(span, request)


def configure_telemetry(
    service_name: str,
    *,
    otlp_endpoint: str = "",
    trace_file: Path | None = None,
    metrics_file: Path | None = None,
    metrics_interval_s: float = 10.0,
) -> None:
    """Install the process's tracer and meter providers; later calls change nothing.

    Backend HTTP calls made with httpx are traced too, as children of the span that makes them.
    """
    global _configured
    if _configured:
        return
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = []
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
        )
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=otlp_endpoint, insecure=True),
                export_interval_millis=metrics_interval_s * 1000,
            )
        )
    if trace_file is not None:
        tracer_provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(trace_file)))
    if metrics_file is not None:
        metrics_file.parent.mkdir(parents=True, exist_ok=True)
        out = metrics_file.open("a", encoding="utf-8")
        readers.append(
            PeriodicExportingMetricReader(
                ConsoleMetricExporter(
                    out=out, formatter=lambda data: data.to_json(indent=None) + "\n"
                ),
                export_interval_millis=metrics_interval_s * 1000,
            )
        )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    instrument_http_clients()
    _configured = True


def shutdown_telemetry() -> None:
    """Flush what is buffered; called as a process stops."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.shutdown()
