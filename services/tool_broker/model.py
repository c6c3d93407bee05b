"""The broker's domain objects: steps, verdicts, outcomes, and the peers a step consults."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

JsonObject = dict[str, Any]


class Outcome(enum.Enum):
    """How a step ended; mirrors StepOutcome in protos/switchboard/v1/common.proto."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    SKIPPED = "SKIPPED"
    UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class Step:
    """One tool call of a plan, as the caller sent it (arguments masked, references unresolved)."""

    id: str
    tool: str
    arguments: JsonObject
    depends_on: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class CallContext:
    """Whose call it is: the session's PII vault, and the turn the idempotency keys belong to."""

    session_id: str
    turn_id: str
    #: the plan the call belongs to; a plan run again (once the customer confirms it) reuses
    #: its idempotency keys, so steps that already took effect do not take effect twice
    plan_id: str = ""
    #: the session facts tool-call rules read (identity_verified, confirmed, ...)
    session: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """A policy or contract check on a step; mirrors PolicyVerdict (stage is always TOOL_CALL)."""

    action: str  # a PolicyAction name without prefix: "ALLOW", "BLOCK", "CONFIRM", ...
    rule_id: str
    reason: str
    message: str = ""

    @property
    def allows(self) -> bool:
        return self.action == "ALLOW"


@dataclass(frozen=True)
class StepResult:
    """How one step ended. ``result`` is masked; it is None unless the backend answered."""

    step_id: str
    tool: str
    outcome: Outcome
    result: JsonObject | None = None
    error: str = ""
    latency_s: float = 0.0
    attempts: int = 0
    http_status: int = 0
    verdicts: Sequence[Verdict] = field(default_factory=tuple)
    #: what the step was checked and called with (references resolved, masked); None when it
    #: never got that far
    arguments: JsonObject | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED


@dataclass(frozen=True)
class StepStarted:
    """A step began: its references are resolved, its (masked) arguments are final."""

    step_id: str
    tool: str
    arguments: JsonObject


@dataclass(frozen=True)
class StepFinished:
    """A step ended."""

    result: StepResult


PlanEvent = StepStarted | StepFinished


class PeerUnavailable(Exception):
    """A peer service (governance, pii) did not answer; the message says which and why."""


class ToolCallPolicy(Protocol):
    """The governance check every call must pass before it is sent."""

    async def check(
        self, context: CallContext, step: Step, calls_in_turn: int
    ) -> tuple[Verdict, Sequence[Verdict]]:
        """The deciding verdict and every verdict that matched; raises PeerUnavailable."""


class PiiVault(Protocol):
    """The session's PII vault: restores placeholders for a tool, masks what comes back."""

    async def restore(
        self, session_id: str, data: Mapping[str, Any], allowed_types: frozenset[str]
    ) -> tuple[JsonObject, Sequence[str]]:
        """The data with allowed placeholders restored, and the placeholders refused."""

    async def redact(self, session_id: str, data: Mapping[str, Any]) -> JsonObject:
        """The data with every string value masked; raises PeerUnavailable."""
