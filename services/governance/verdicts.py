"""Verdicts: the typed outcome of one policy or contract check, as plain values."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Stage(enum.Enum):
    """Where in a turn a rule is evaluated."""

    INPUT = "input"
    TOOL_CALL = "tool_call"
    OUTPUT = "output"


class Action(enum.Enum):
    """What a verdict asks the runtime to do, from the mildest to the strictest."""

    ALLOW = "allow"
    DISCLAIM = "disclaim"
    REDACT = "redact"
    CONFIRM = "confirm"
    HANDOFF = "handoff"
    BLOCK = "block"

    @property
    def strictness(self) -> int:
        """Rank used to pick the deciding verdict: a higher rank wins."""
        return _STRICTNESS[self]


_STRICTNESS = {action: rank for rank, action in enumerate(Action)}

#: the rule id of the verdict returned when no rule matched
DEFAULT_RULE = "default"


@dataclass(frozen=True)
class Verdict:
    """One check's outcome. ``rule_id`` is "<pack>/<rule>", "contract/<tool>" or "default"."""

    stage: Stage
    action: Action
    rule_id: str
    reason: str
    message: str = ""

    @property
    def pack(self) -> str:
        """The pack the deciding rule belongs to ("contract" for contract checks)."""
        return self.rule_id.partition("/")[0]


def allow(stage: Stage) -> Verdict:
    """The verdict when nothing matched."""
    return Verdict(stage, Action.ALLOW, DEFAULT_RULE, "no rule matched")


def strictest(stage: Stage, verdicts: Iterable[Verdict]) -> Verdict:
    """The deciding verdict: the strictest action; among equals, the first one."""
    best: Verdict | None = None
    for verdict in verdicts:
        if best is None or verdict.action.strictness > best.action.strictness:
            best = verdict
    return best if best is not None else allow(stage)
