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
SPAN_CHECK_INPUT = "switchboard.governance.check_input"
SPAN_DECIDE = "switchboard.governance.decide"
SPAN_CHECK_TOOL_CALL = "switchboard.governance.check_tool_call"
SPAN_CHECK_OUTPUT = "switchboard.governance.check_output"
SPAN_STEP = "switchboard.tool_broker.step"
SPAN_PLAN = "switchboard.planner.plan"
SPAN_COMPOSE = "switchboard.planner.compose"

# Turn and session
SESSION_ID = "switchboard.session.id"
TURN_ID = "switchboard.turn.id"
CHANNEL = "switchboard.channel"
TURN_LATENCY_MS = "switchboard.turn.latency_ms"
STAGE = "switchboard.stage"
INTENT = "switchboard.intent"
INTENT_CONFIDENCE = "switchboard.intent.confidence"

# Plans and tools
PLAN_TIER = "switchboard.plan.tier"
PLAN_FLOW = "switchboard.plan.flow"
PLAN_STEPS = "switchboard.plan.steps"
PLAN_MISSING_SLOTS = "switchboard.plan.missing_slots"
TOOL = "switchboard.tool.name"
STEP_ID = "switchboard.step.id"
STEP_OUTCOME = "switchboard.step.outcome"
STEP_ATTEMPTS = "switchboard.step.attempts"
STEP_ERROR = "switchboard.step.error"
HTTP_STATUS = "http.response.status_code"

# Policy and the fallback ladder
POLICY_STAGE = "switchboard.policy.stage"
POLICY_ACTION = "switchboard.policy.action"
POLICY_RULE = "switchboard.policy.rule_id"
POLICY_REASON = "switchboard.policy.reason"
POLICY_MATCHED = "switchboard.policy.matched"
DECISION_ROUTE = "switchboard.decision.route"
DECISION_TIER = "switchboard.decision.tier"
FALLBACK_REASON = "switchboard.fallback.reason"

# Model calls (OpenTelemetry GenAI semantic conventions)
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
