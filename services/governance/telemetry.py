"""Span names and attributes for policy checks.

Each check runs in its own span that carries the deciding verdict; spans never carry the text
checked, only rule ids and reasons (which packs write without customer data).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace

from services.governance.verdicts import Verdict
from services.runtime import telemetry_names as names

_tracer = trace.get_tracer("switchboard.governance")


@contextmanager
def check_span(name: str) -> Iterator[trace.Span]:
    """A span for one check."""
    with _tracer.start_as_current_span(name) as span:
        yield span


def start_span(name: str) -> trace.Span:
    """A span that the caller ends, for work that outlives one context (streams)."""
    return _tracer.start_span(name)


def record(span: trace.Span, verdict: Verdict, matched: Sequence[Verdict] = ()) -> None:
    """Put the deciding verdict (and the ids of all matches) on the span."""
    span.set_attribute(names.POLICY_STAGE, verdict.stage.value)
    span.set_attribute(names.POLICY_ACTION, verdict.action.value)
    span.set_attribute(names.POLICY_RULE, verdict.rule_id)
    span.set_attribute(names.POLICY_REASON, verdict.reason)
    if matched:
        span.set_attribute(names.POLICY_MATCHED, [v.rule_id for v in matched])
