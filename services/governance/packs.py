"""Policy packs: YAML files validated by governance/pack.schema.json, compiled once at load.

A pack that does not load stops the service at start with ``<file>:<line>: <reason>``. Lines come
from the YAML node marks, so a schema error points at the offending key, not at the file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# No type stubs ship with jsonschema (types-jsonschema is not a dependency); its names are Any here.
import jsonschema
import yaml

from services.governance.config import BASE_PACK, GovernanceSettings
from services.governance.expressions import Condition, ExpressionError, Params, compile_condition
from services.governance.verdicts import Action, Stage, Verdict
from services.runtime.errors import ConfigError

log = logging.getLogger(__name__)

Validator = Any  # a jsonschema validator instance

#: what a rule's condition may read, by stage
VARIABLES: Mapping[Stage, frozenset[str]] = {
    Stage.INPUT: frozenset(
        {"text", "channel", "intent", "confidence", "candidates", "session", "params"}
    ),
    Stage.TOOL_CALL: frozenset({"tool", "args", "contract", "calls_in_turn", "session", "params"}),
    Stage.OUTPUT: frozenset({"text", "intent", "session", "params"}),
}

# Input text and the classified intent are known at different moments of a turn: the text when
# CheckInput runs (concurrently with classification), the intent when Decide runs.
_TEXT_VARIABLES = frozenset({"text", "channel"})
_INTENT_VARIABLES = frozenset({"intent", "confidence", "candidates"})


class PackError(ConfigError):
    """A policy pack that cannot be loaded; the message starts with ``<file>:<line>:``."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Rule:
    """One compiled rule of a pack."""

    pack: str
    id: str
    description: str
    stage: Stage
    condition: Condition
    action: Action
    message: str
    queue: str | None
    pattern: re.Pattern[str] | None
    fail_closed: bool
    line: int
    params: Mapping[str, Any] = field(default_factory=dict)
    #: variable -> the names it must have for the condition to hold (see Condition.scope)
    scope: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def admits(self, variable: str, value: object) -> bool:
        """False only when the rule's scope rules out ``value`` for ``variable``."""
        names = self.scope.get(variable)
        return names is None or not isinstance(value, str) or value in names

    @property
    def rule_id(self) -> str:
        """The id verdicts carry: "<pack>/<rule>"."""
        return f"{self.pack}/{self.id}"

    @property
    def needs_intent(self) -> bool:
        """An input rule over the classified intent: evaluated by Decide, not by CheckInput."""
        return self.stage is Stage.INPUT and bool(self.condition.variables & _INTENT_VARIABLES)

    def verdict(self, reason: str) -> Verdict:
        """This rule's verdict."""
        return Verdict(self.stage, self.action, self.rule_id, reason, self.message)


@dataclass(frozen=True)
class IntentInfo:
    """How a pack presents one of its intents."""

    name: str
    label: str
    multi_step: bool
    line: int = 0
    #: the least confidence it is acted on with, when above its pack's threshold
    min_confidence: float = 0.0
    #: an answer to the assistant's question (yes, no): offered in a clarification only while
    #: something waits for the customer's answer
    answers_only: bool = False
    #: answering it changes nothing (hello, thanks, goodbye, a no): a clarification between such
    #: intents alone is not asked, the likeliest is answered
    harmless: bool = False


@dataclass(frozen=True)
class FallbackPolicy:
    """The fallback ladder's settings for a pack's intents."""

    confidence_threshold: float = 0.55
    ambiguity_margin: float = 0.1
    max_options: int = 3
    option_floor: float = 0.05
    handoff_after: int = 2
    handoff_queue: str = "general"
    clarify_message: str = "Just to be sure I help with the right thing: do you want to {options}?"
    safe_flow_message: str = "I can't help with that here, but I can help with your bookings."
    handoff_message: str = "I'm passing you to a colleague who can help with this."


@dataclass(frozen=True)
class Pack:
    """A loaded, compiled policy pack."""

    name: str
    description: str
    path: Path
    params: Mapping[str, Any]
    intents: Mapping[str, IntentInfo]
    fallback: FallbackPolicy
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class PolicySet:
    """The packs in force, the base pack first."""

    packs: tuple[Pack, ...]
    _by_stage: Mapping[Stage, tuple[Rule, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_stage = {
            stage: tuple(r for p in self.packs for r in p.rules if r.stage is stage)
            for stage in Stage
        }
        object.__setattr__(self, "_by_stage", by_stage)

    @property
    def base(self) -> Pack:
        """The pack that always applies."""
        return self.packs[0]

    def rules(self, stage: Stage) -> tuple[Rule, ...]:
        """Every rule of the stage, in pack order then file order."""
        return self._by_stage[stage]

    def pack(self, name: str) -> Pack | None:
        """A pack by name."""
        return next((p for p in self.packs if p.name == name), None)

    def rule(self, rule_id: str) -> Rule | None:
        """A rule by its "<pack>/<rule>" id."""
        pack = self.pack(rule_id.partition("/")[0])
        if pack is None:
            return None
        return next((r for r in pack.rules if r.rule_id == rule_id), None)

    def tool_references(self) -> list[tuple[Pack, str, str]]:
        """Tool names the packs list in params named ``*_tools``: (pack, param, tool)."""
        return [
            (pack, param, str(tool))
            for pack in self.packs
            for param, value in pack.params.items()
            if param.endswith("_tools") and isinstance(value, list)
            for tool in value
        ]

    def pack_for_intent(self, intent: str) -> Pack:
        """The pack that declares the intent, or the base pack."""
        return next((p for p in self.packs if intent in p.intents), self.base)

    def intent(self, name: str) -> IntentInfo:
        """How an intent is presented; an undeclared one gets a label from its name."""
        declared = self.pack_for_intent(name).intents.get(name)
        return declared or IntentInfo(name, name.replace("_", " "), multi_step=False)


class _Lines:
    """Line numbers of every node of a YAML document, by JSON path."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._lines: dict[tuple[str | int, ...], int] = {}
        self.duplicates: list[tuple[int, str]] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[str | int, ...]) -> None:
        self._lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    self.duplicates.append((key.start_mark.line + 1, name))
                seen.add(name)
                self._walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def line(self, path: Iterable[str | int]) -> int | None:
        """The line of the node at ``path``, or of its nearest ancestor."""
        parts = tuple(path)
        while parts not in self._lines and parts:
            parts = parts[:-1]
        return self._lines.get(parts)


def _read_yaml(path: Path) -> tuple[Any, _Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PackError(path, None, f"cannot read: {error.strerror or error}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PackError(path, line, f"invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise PackError(path, None, f"invalid YAML: {error}") from None
    lines = _Lines(root)
    if lines.duplicates:
        line, key = lines.duplicates[0]
        raise PackError(path, line, f"key {key!r} appears twice in the same mapping")
    return data, lines


def _where(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "pack"


def load_schema(path: Path) -> Validator:
    """The pack schema's validator; an invalid schema is a configuration error."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the policy pack schema {path}: {error}") from None
    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ConfigError(f"the policy pack schema {path} is invalid: {error.message}") from None
    validator: Validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return validator


def _validate(path: Path, data: Any, lines: _Lines, schema: Validator) -> None:
    errors = sorted(
        schema.iter_errors(data),
        key=lambda e: (lines.line(e.absolute_path) or 0, -len(e.absolute_path)),
    )
    if errors:
        # The deepest error at the first bad line says the most; the others follow in order.
        first = errors[0]
        reason = f"{_where(first.absolute_path)}: {first.message}"
        more = len(errors) - 1
        if more:
            reason += f" (and {more} more schema error{'s' if more > 1 else ''})"
        raise PackError(path, lines.line(first.absolute_path), reason)


def _compile_rule(
    path: Path,
    pack: str,
    index: int,
    raw: Mapping[str, Any],
    lines: _Lines,
    params: Params,
) -> Rule:
    stage = Stage(raw["stage"])
    rule_path: tuple[str | int, ...] = ("rules", index)
    name = raw["id"]
    try:
        condition = compile_condition(raw["when"], VARIABLES[stage])
    except ExpressionError as error:
        line = lines.line((*rule_path, "when"))
        raise PackError(path, line, f"rule '{name}': when {error}") from None
    if stage is Stage.INPUT and condition.variables & _TEXT_VARIABLES:
        both = condition.variables & _INTENT_VARIABLES
        if both:
            raise PackError(
                path,
                lines.line((*rule_path, "when")),
                f"rule '{name}': an input rule reads either the text (checked as it arrives)"
                " or the intent (checked once classified), not both; it reads text and "
                + ", ".join(sorted(both)),
            )
    pattern: re.Pattern[str] | None = None
    if "pattern" in raw:
        try:
            pattern = re.compile(raw["pattern"])
        except re.error as error:
            line = lines.line((*rule_path, "pattern"))
            raise PackError(path, line, f"rule '{name}': pattern is invalid: {error}") from None
    return Rule(
        pack=pack,
        id=name,
        description=raw["description"],
        stage=stage,
        condition=condition,
        action=Action(raw["action"]),
        message=raw.get("message", ""),
        queue=raw.get("queue"),
        pattern=pattern,
        fail_closed=raw.get("on_error", "match") == "match",
        line=lines.line(rule_path) or 0,
        params=params,
        scope=condition.scope(params),
    )


def load_pack(path: Path, schema: Validator, defaults: FallbackPolicy) -> Pack:
    """Load one pack file; raise PackError naming the file, the line and the reason."""
    data, lines = _read_yaml(path)
    _validate(path, data, lines, schema)
    name = data["pack"]
    if name != path.stem:
        raise PackError(path, lines.line(("pack",)), f"pack {name!r} must be named {path.stem!r}")
    try:
        params = Params(data.get("params") or {})
    except (TypeError, ValueError) as error:
        line = lines.line(("params",))
        raise PackError(path, line, f"params: not JSON-like values: {error}") from None
    seen: dict[str, int] = {}
    rules: list[Rule] = []
    for index, raw in enumerate(data["rules"]):
        if raw["id"] in seen:
            line = lines.line(("rules", index, "id"))
            first = seen[raw["id"]]
            raise PackError(path, line, f"rule id '{raw['id']}' is used twice (first at {first})")
        seen[raw["id"]] = lines.line(("rules", index, "id")) or 0
        rules.append(_compile_rule(path, name, index, raw, lines, params))
    intents = {
        intent: IntentInfo(
            intent,
            spec["label"],
            bool(spec.get("multi_step", False)),
            lines.line(("intents", intent)) or 0,
            float(spec.get("min_confidence", 0.0)),
            bool(spec.get("answers_only", False)),
            bool(spec.get("harmless", False)),
        )
        for intent, spec in (data.get("intents") or {}).items()
    }
    return Pack(
        name=name,
        description=data["description"],
        path=path,
        params=params,
        intents=intents,
        fallback=replace(defaults, **(data.get("fallback") or {})),
        rules=tuple(rules),
    )


def load_packs(settings: GovernanceSettings) -> PolicySet:
    """Load the packs the settings name, the base pack first whether listed or not."""
    schema = load_schema(settings.pack_schema)
    names = [BASE_PACK, *(name for name in settings.packs if name != BASE_PACK)]
    packs: list[Pack] = []
    for name in names:
        path = settings.packs_dir / f"{name}.yaml"
        if not path.is_file():
            present = sorted(p.stem for p in settings.packs_dir.glob("*.yaml"))
            raise ConfigError(
                f"policy pack {name!r} not found in {settings.packs_dir}"
                f" (present: {', '.join(present) or 'none'})"
            )
        defaults = packs[0].fallback if packs else FallbackPolicy()
        packs.append(load_pack(path, schema, defaults))
    owners: dict[str, str] = {}
    for pack in packs:
        for intent, info in pack.intents.items():
            if intent in owners:
                raise PackError(
                    pack.path,
                    info.line,
                    f"intent {intent!r} is declared by pack {owners[intent]!r} too",
                )
            owners[intent] = pack.name
    policy = PolicySet(tuple(packs))
    log.info(
        "policy packs loaded: %s (%d rules)",
        ", ".join(p.name for p in packs),
        sum(len(p.rules) for p in packs),
    )
    return policy
