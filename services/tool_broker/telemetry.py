"""The broker's spans: one per step, carrying its tool, outcome and attempts (never arguments).

Attribute keys come from :mod:`services.runtime.telemetry_names`; the HTTP call inside a step is
traced by the httpx instrumentation (``http.*``), which also propagates the trace to the backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from services.runtime import telemetry_names as names
from services.tool_broker.model import CallContext, Step, StepResult

_tracer = trace.get_tracer("switchboard.tool_broker")


@contextmanager
def step_span(context: CallContext, step: Step) -> Iterator[trace.Span]:
    """A span around one step's whole pipeline."""
    with _tracer.start_as_current_span(names.SPAN_STEP) as span:
        span.set_attribute(names.SESSION_ID, context.session_id)
        span.set_attribute(names.TURN_ID, context.turn_id)
        span.set_attribute(names.STEP_ID, step.id)
        span.set_attribute(names.TOOL, step.tool)
        yield span


def record(span: trace.Span, result: StepResult) -> None:
    """Put the step's outcome on its span; errors are masked text, like every result."""
    span.set_attribute(names.STEP_OUTCOME, result.outcome.value)
    span.set_attribute(names.STEP_ATTEMPTS, result.attempts)
    if result.http_status:
        span.set_attribute(names.HTTP_STATUS, result.http_status)
    if result.verdicts:
        span.set_attribute(names.POLICY_RULE, [v.rule_id for v in result.verdicts])
    if not result.succeeded:
        span.set_attribute(names.STEP_ERROR, result.error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, result.outcome.value))
