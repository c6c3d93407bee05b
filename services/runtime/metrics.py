"""Switchboard's metrics, declared once.

Instruments come from the global meter provider; until a process installs one they record
nothing, so libraries and tests can import this module freely.
"""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("switchboard")

TURN_DURATION = _meter.create_histogram(
    "switchboard.turn.duration", unit="s", description="wall time of a turn, end to end"
)
STAGE_DURATION = _meter.create_histogram(
    "switchboard.stage.duration", unit="s", description="wall time of one stage of a turn"
)
TOOL_DURATION = _meter.create_histogram(
    "switchboard.tool.duration",
    unit="s",
    description="wall time of one tool call, retries included",
)
FALLBACKS = _meter.create_counter(
    "switchboard.fallbacks", unit="{fallback}", description="turns that took a safe path"
)
POLICY_INTERVENTIONS = _meter.create_counter(
    "switchboard.policy.interventions",
    unit="{verdict}",
    description="policy verdicts other than allow, by rule",
)
TOKENS = _meter.create_counter(
    "gen_ai.client.token.usage.total", unit="{token}", description="model tokens, by model"
)
