"""The planner's spans: one per model call (GenAI conventions) and one per plan.

Attribute keys come from :mod:`services.runtime.telemetry_names`; prompts and replies are never
put on spans (they are masked, but a trace needs the shape of the work, not the words).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

from services.planner.plans import Plan, Usage
from services.runtime import telemetry_names as names

_tracer = trace.get_tracer("switchboard.planner")


@contextmanager
def model_span(model: str) -> Iterator[trace.Span]:
    """A span around one Chat Completions call, named as the GenAI conventions ask."""
    with _tracer.start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute(names.GEN_AI_OPERATION, "chat")
        span.set_attribute(names.GEN_AI_SYSTEM, "openai")
        span.set_attribute(names.GEN_AI_REQUEST_MODEL, model)
        yield span


def record_usage(span: trace.Span, usage: Usage | None, finish_reason: str) -> None:
    if usage is not None:
        span.set_attribute(names.GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens)
        span.set_attribute(names.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens)
    if finish_reason:
        span.set_attribute(names.GEN_AI_FINISH_REASONS, [finish_reason])


@contextmanager
def plan_span(session_id: str, turn_id: str, intent: str) -> Iterator[trace.Span]:
    with _tracer.start_as_current_span(names.SPAN_PLAN) as span:
        span.set_attribute(names.SESSION_ID, session_id)
        span.set_attribute(names.TURN_ID, turn_id)
        span.set_attribute(names.INTENT, intent)
        yield span


def record_plan(span: trace.Span, plan: Plan) -> None:
    span.set_attribute(names.PLAN_TIER, plan.tier)
    span.set_attribute(names.PLAN_FLOW, plan.flow)
    span.set_attribute(names.PLAN_STEPS, len(plan.steps))
    if plan.missing_slots:
        span.set_attribute(names.PLAN_MISSING_SLOTS, plan.missing_slots)
    if plan.fallback_reason:
        span.set_attribute(names.FALLBACK_REASON, plan.fallback_reason)
