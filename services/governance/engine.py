"""Evaluating the packs' rules on input, intents and tool calls."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.governance.expressions import Bindings, EvaluationError, Params
from services.governance.packs import VARIABLES, PolicySet, Rule
from services.governance.verdicts import Action, Stage, Verdict, strictest

log = logging.getLogger(__name__)

#: shown when a tool call breaks its contract; the reason (for audit) says how
CONTRACT_MESSAGE = "I couldn't complete that request safely, so I didn't attempt it."


class ToolContract(Protocol):
    """What the engine reads of a catalogue ToolSpec."""

    @property
    def name(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def confirm(self) -> bool: ...
    @property
    def media(self) -> str | None: ...
    @property
    def pii_types(self) -> frozenset[str]: ...


class ContractSource(Protocol):
    """The catalogue, as far as tool-call checks need it."""

    def get(self, name: str) -> ToolContract | None: ...

    def validate_arguments(
        self, name: str, arguments: Mapping[str, Any], *, allow_placeholders: bool = False
    ) -> list[str]: ...


@dataclass(frozen=True)
class Check:
    """A check's outcome: the deciding verdict and every verdict that matched."""

    verdict: Verdict
    matched: tuple[Verdict, ...]


@dataclass(frozen=True)
class Intent:
    """A classification, as Decide and the intent rules see it."""

    name: str
    confidence: float
    candidates: tuple[tuple[str, float], ...] = ()
    out_of_scope: bool = False
    #: every intent the message expresses, when it expresses several
    intents: tuple[str, ...] = ()

    def ranked(self) -> list[tuple[str, float]]:
        """The candidates best first, the top intent included."""
        candidates = dict(self.candidates)
        candidates.setdefault(self.name, self.confidence)
        return sorted(candidates.items(), key=lambda item: item[1], reverse=True)


def evaluate(rule: Rule, variables: Mapping[str, Any] | Bindings) -> Verdict | None:
    """The rule's verdict when its condition holds; an evaluation error fails closed by default.

    ``variables`` are a check's :class:`Bindings` (converted to CEL once for all its rules) or
    plain JSON-like values.
    """
    if not isinstance(variables, Bindings):
        variables = Bindings(variables, rule.condition.variables)
    params = rule.params if isinstance(rule.params, Params) else Params(rule.params)
    try:
        holds = rule.condition.evaluate_in(variables, params)
    except EvaluationError as error:
        log.warning("rule %s could not be evaluated: %s", rule.rule_id, error)
        if not rule.fail_closed:
            return None
        return rule.verdict(f"{rule.description} (could not be evaluated, failing closed: {error})")
    return rule.verdict(rule.description) if holds else None


def evaluate_all(rules: Iterable[Rule], variables: Mapping[str, Any] | Bindings) -> list[Verdict]:
    """The verdicts of the rules whose conditions hold, in rule order."""
    rules = tuple(rules)
    if not isinstance(variables, Bindings):
        variables = Bindings(
            variables, {name for rule in rules for name in rule.condition.variables}
        )
    return [v for v in (evaluate(rule, variables) for rule in rules) if v is not None]


class RuleIndex:
    """A stage's rules by the value of one variable that their scopes may pin, in rule order.

    A rule whose scope (see ``Condition.scope``) rules out the value is left out: its condition
    cannot hold, so evaluating it could not add a verdict. Order, and so precedence, is kept.
    """

    def __init__(self, rules: Iterable[Rule], variable: str) -> None:
        self.rules = tuple(rules)
        self.variable = variable
        names = {name for rule in self.rules for name in rule.scope.get(variable, ())}
        self._by_name = {
            name: tuple(r for r in self.rules if r.admits(variable, name)) for name in names
        }
        self._unscoped = tuple(r for r in self.rules if variable not in r.scope)

    def select(self, value: object) -> tuple[Rule, ...]:
        """The rules that can hold when the variable has ``value``."""
        if not isinstance(value, str):
            return self.rules
        return self._by_name.get(value, self._unscoped)


def contract_view(spec: ToolContract | None) -> dict[str, Any]:
    """The tool's contract as rules read it (``contract.read_only``, ``contract.backend`` ...)."""
    if spec is None:
        return {}
    return {
        "name": spec.name,
        "backend": spec.backend,
        "method": spec.method,
        "path": spec.path,
        "read_only": spec.read_only,
        "confirm": spec.confirm,
        "media": spec.media or "",
        "pii_types": sorted(spec.pii_types),
    }


class Governance:
    """The packs in force and the tool contracts, checked as values (no I/O, no gRPC)."""

    def __init__(self, policy: PolicySet, contracts: ContractSource) -> None:
        self.policy = policy
        self.contracts = contracts
        stage_rules = policy.rules(Stage.INPUT)
        self._text_rules = RuleIndex((r for r in stage_rules if not r.needs_intent), "channel")
        self._intent_rules = RuleIndex((r for r in stage_rules if r.needs_intent), "intent")
        self._tool_rules = RuleIndex(policy.rules(Stage.TOOL_CALL), "tool")

    def check_input(self, text: str, channel: str, session: Mapping[str, Any]) -> Check:
        """The input rules over the customer's text."""
        variables = {"text": text, "channel": channel, "session": dict(session)}
        bindings = Bindings(variables, VARIABLES[Stage.INPUT])
        matched = evaluate_all(self._text_rules.select(channel), bindings)
        return Check(strictest(Stage.INPUT, matched), tuple(matched))

    def check_intent(self, intent: Intent, session: Mapping[str, Any]) -> list[Verdict]:
        """The input rules over the classified intent (evaluated when Decide runs)."""
        variables = {
            "intent": intent.name,
            "confidence": intent.confidence,
            "candidates": [{"name": n, "confidence": c} for n, c in intent.ranked()],
            "session": dict(session),
        }
        bindings = Bindings(variables, VARIABLES[Stage.INPUT])
        return evaluate_all(self._intent_rules.select(intent.name), bindings)

    def check_tool_call(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        calls_in_turn: int,
        session: Mapping[str, Any],
    ) -> Check:
        """The contract check, then every tool-call rule; anything but ALLOW stops the call."""
        spec = self.contracts.get(tool)
        matched: list[Verdict] = []
        rule_id = f"contract/{tool}"
        if spec is None:
            reason = f"unknown tool {tool!r}: no operation of any backend contract has that name"
            matched.append(
                Verdict(Stage.TOOL_CALL, Action.BLOCK, rule_id, reason, CONTRACT_MESSAGE)
            )
        else:
            # Arguments arrive masked: a placeholder stands for a value the contract will see
            # restored, so it is checked for its type here and in full by the broker.
            problems = self.contracts.validate_arguments(tool, arguments, allow_placeholders=True)
            if problems:
                reason = f"arguments break the {tool} contract: " + "; ".join(problems)
                matched.append(
                    Verdict(Stage.TOOL_CALL, Action.BLOCK, rule_id, reason, CONTRACT_MESSAGE)
                )
        variables = {
            "tool": tool,
            "args": dict(arguments),
            "contract": contract_view(spec),
            "calls_in_turn": calls_in_turn,
            "session": dict(session),
        }
        bindings = Bindings(variables, VARIABLES[Stage.TOOL_CALL])
        matched.extend(evaluate_all(self._tool_rules.select(tool), bindings))
        return Check(strictest(Stage.TOOL_CALL, matched), tuple(matched))

    def output_rules(self) -> Sequence[Rule]:
        """The output rules, in order."""
        return self.policy.rules(Stage.OUTPUT)
