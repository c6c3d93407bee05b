"""The telemetry vocabulary: span names and ``switchboard.*`` attribute keys, in one place.

OpenTelemetry's own conventions come first (``rpc.*`` from the gRPC instrumentation,
``http.*`` from the httpx instrumentation, ``gen_ai.*`` for model calls); these keys cover what
they do not. Attribute values are masked text or identifiers, never raw customer text.
"""

from __future__ import annotations

# Spans
SPAN_TURN = "switchboard.turn"
SPAN_STAGE = "switchboard.stage.{stage}"
SPAN_CLASSIFY = "switchboard.classify"

# Turn and session
SESSION_ID = "switchboard.session.id"
TURN_ID = "switchboard.turn.id"
CHANNEL = "switchboard.channel"
TURN_LATENCY_MS = "switchboard.turn.latency_ms"
STAGE = "switchboard.stage"
INTENT = "switchboard.intent"
INTENT_CONFIDENCE = "switchboard.intent.confidence"

# Tools and policy
TOOL = "switchboard.tool"
STEP_ID = "switchboard.step.id"
STEP_OUTCOME = "switchboard.step.outcome"
POLICY_RULE = "switchboard.policy.rule"
POLICY_ACTION = "switchboard.policy.action"
POLICY_STAGE = "switchboard.policy.stage"
FALLBACK_REASON = "switchboard.fallback.reason"

# Model calls (OpenTelemetry GenAI semantic conventions)
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
