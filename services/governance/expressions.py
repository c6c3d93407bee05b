"""Rule conditions in CEL (the Common Expression Language), compiled once at load.

`celpy` parses and evaluates the expressions. On top of the standard library this module adds:

- ``mentions(text, phrases)``: true when ``text`` contains one of ``phrases`` as whole words,
  ignoring case and runs of whitespace. Keyword lists read better than regular expressions in a
  pack, and whole-word matching keeps "sue" from matching "issue".
- numeric comparisons and arithmetic across int and double (``args.amount > 100`` when amount
  is 120.5, ``session.original_charge * 1.1``): JSON has one number type, so a pack author cannot
  know which CEL type a value arrives as; celpy 0.5 would fail with "no matching overload".

At load, every expression is parsed, its free variables and functions are checked against what
its stage provides, and every literal pattern given to ``matches`` is compiled, so a typo fails at
start with the rule's name instead of at the first customer message.

Evaluation is shaped for many rules over one check: :class:`Bindings` converts a check's
variables to CEL once, and every condition is evaluated against the one activation it builds per
pack (a pack's :class:`Params` are converted once, at load). :meth:`Condition.scope` reads the
top-level ``&&`` terms that pin a variable to a set of names (``tool in params.refund_tools``),
so the engine can skip a rule whose condition cannot hold for the tool or intent at hand.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import (
    Activation,
    CELEvalError,
    CELFunction,
    Evaluator,
    base_functions,
    function_matches,
)

# cel-python logs each evaluation with its activation at DEBUG: input rules see the
# customer's raw message, which must never reach a log line.
logging.getLogger("celpy").setLevel(logging.WARNING)

# Macros bind their first argument as a variable inside the rest of the call.
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_SPECIAL_FORMS = frozenset({"has", "dyn"})


class ExpressionError(ValueError):
    """An expression that cannot be compiled or does not fit its stage."""


class EvaluationError(RuntimeError):
    """An expression that failed while being evaluated (a missing field, a type mismatch)."""


def _words(text: str) -> str:
    # Not cached: the text is the customer's, and a process-wide cache would keep it.
    return " ".join(text.split()).casefold()


@functools.lru_cache(maxsize=512)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(_words(phrase)) for phrase in phrases if phrase.strip())
    # \b only where the phrase itself starts or ends with a word character, so "$5,000" or
    # "100%" still match at their edges.
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)" if alternatives else r"(?!x)x")


def mentions(text: celtypes.Value, phrases: celtypes.Value) -> celtypes.BoolType:
    """CEL ``mentions(text, [phrases])``: a whole-word, case-insensitive phrase match."""
    if not isinstance(text, str) or not isinstance(phrases, list):
        raise TypeError("mentions(text, phrases) takes a string and a list of strings")
    if not all(isinstance(phrase, str) for phrase in phrases):
        raise TypeError("mentions(text, phrases): every phrase must be a string")
    pattern = _phrase_pattern(tuple(str(phrase) for phrase in phrases))
    return celtypes.BoolType(pattern.search(_words(str(text))) is not None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(
    compare: Callable[[float, float], bool], fallback: CELFunction
) -> Callable[[Any, Any], Any]:
    def relation(left: Any, right: Any) -> Any:
        if _is_number(left) and _is_number(right):
            return celtypes.BoolType(compare(float(left), float(right)))
        return fallback(left, right)

    return relation


def _promoted(
    operation: Callable[[float, float], float], fallback: CELFunction
) -> Callable[[Any, Any], Any]:
    def arithmetic(left: Any, right: Any) -> Any:
        if _is_number(left) and _is_number(right) and (type(left) is not type(right)):
            return celtypes.DoubleType(operation(float(left), float(right)))
        return fallback(left, right)

    return arithmetic


FUNCTIONS: dict[str, CELFunction] = {
    "mentions": mentions,
    "_+_": _promoted(lambda a, b: a + b, base_functions["_+_"]),
    "_-_": _promoted(lambda a, b: a - b, base_functions["_-_"]),
    "_*_": _promoted(lambda a, b: a * b, base_functions["_*_"]),
    "_/_": _promoted(lambda a, b: a / b, base_functions["_/_"]),
    "_<_": _numeric(lambda a, b: a < b, base_functions["_<_"]),
    "_<=_": _numeric(lambda a, b: a <= b, base_functions["_<=_"]),
    "_>_": _numeric(lambda a, b: a > b, base_functions["_>_"]),
    "_>=_": _numeric(lambda a, b: a >= b, base_functions["_>=_"]),
    "_==_": _numeric(lambda a, b: a == b, base_functions["_==_"]),
    "_!=_": _numeric(lambda a, b: a != b, base_functions["_!=_"]),
}

_KNOWN_FUNCTIONS = frozenset(base_functions) | frozenset(FUNCTIONS) | _MACROS | _SPECIAL_FORMS

_ENVIRONMENT = celpy.Environment()
# What celpy's runner builds before every evaluation: the environment's type annotations
# (protobuf well-known types) and the functions. Built once; checks' activations chain to it.
_ANNOTATED = Activation(
    annotations=_ENVIRONMENT.annotations, functions=FUNCTIONS, package=_ENVIRONMENT.package
)


def _token(node: lark.Tree[lark.Token] | lark.Token) -> str:
    return str(node)


def _literal_string(node: lark.Tree[lark.Token]) -> str | None:
    """The value of an argument that is a bare string literal, or None."""
    current: lark.Tree[lark.Token] | lark.Token = node
    while isinstance(current, lark.Tree) and current.data != "literal":
        if len(current.children) != 1:
            return None
        current = current.children[0]
    if not isinstance(current, lark.Tree):
        return None
    source = _token(current.children[0])
    if not source.lstrip("rRbB").startswith(("'", '"')):
        return None
    value = _ENVIRONMENT.program(_ENVIRONMENT.compile(source)).evaluate({})
    return str(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class _Analysis:
    variables: frozenset[str]
    functions: frozenset[str]
    patterns: tuple[str, ...]


def _analyse(tree: lark.Tree[lark.Token]) -> _Analysis:
    variables: set[str] = set()
    bound: set[str] = set()
    functions: set[str] = set()
    patterns: list[str] = []
    for node in tree.iter_subtrees():
        if node.data == "ident":
            variables.add(_token(node.children[0]))
        elif node.data == "ident_arg":
            functions.add(_token(node.children[0]))
            arguments = [c for c in node.children[1:] if isinstance(c, lark.Tree)]
            if _token(node.children[0]) == "matches" and arguments:
                exprs = [c for c in arguments[0].children if isinstance(c, lark.Tree)]
                if len(exprs) == 2:
                    pattern = _literal_string(exprs[1])
                    patterns.extend([pattern] if pattern is not None else [])
        elif node.data == "member_dot_arg":
            name = _token(node.children[1])
            functions.add(name)
            arguments = [c for c in node.children[2:] if isinstance(c, lark.Tree)]
            exprs = (
                [c for c in arguments[0].children if isinstance(c, lark.Tree)] if arguments else []
            )
            if name in _MACROS and exprs:
                bound.update(
                    _token(n.children[0]) for n in exprs[0].iter_subtrees() if n.data == "ident"
                )
            if name == "matches" and len(exprs) == 1:
                pattern = _literal_string(exprs[0])
                patterns.extend([pattern] if pattern is not None else [])
    return _Analysis(frozenset(variables - bound), frozenset(functions), tuple(patterns))


class Params(Mapping[str, Any]):
    """A pack's params: read as a mapping, converted to CEL once for every evaluation."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        self.cel: celtypes.Value = json_to_cel(self._values)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Params({self._values!r})"


def to_cel(value: Any) -> celtypes.Value:
    """A JSON-like Python value (or a pack's :class:`Params`) as a CEL value."""
    if isinstance(value, Params):
        return value.cel
    return json_to_cel(value)


class Bindings:
    """One check's variables as CEL values, converted once and shared by every rule.

    ``names`` are the variables conditions may read: one missing from ``variables`` is bound to
    null, as a condition evaluated on its own would see it. The activation of each pack's params
    is built on first use and reused by the pack's other rules.
    """

    def __init__(self, variables: Mapping[str, Any], names: Iterable[str] = ()) -> None:
        self._values: dict[str, celtypes.Value] = {
            name: to_cel(variables.get(name)) for name in {*variables, *names} - {"params"}
        }
        self._activations: dict[int, tuple[Params | None, Activation]] = {}

    def bind(self, name: str, value: Any) -> Bindings:
        """These bindings with ``name`` bound to ``value`` (converted; the rest is shared)."""
        bound = Bindings({})
        bound._values = {**self._values, name: to_cel(value)}
        return bound

    def activation(self, params: Params | None) -> Activation:
        """The activation with these variables and ``params`` (None: params is null)."""
        key = id(params)
        found = self._activations.get(key)
        if found is not None:
            return found[1]
        values = {**self._values, "params": params.cel if params is not None else None}
        # On top of the environment's type annotations, loaded once per process: names
        # resolve as in one flat activation (a value found here shadows a parent's annotation).
        activation = Activation(
            vars=values, functions=FUNCTIONS, package=_ENVIRONMENT.package, based_on=_ANNOTATED
        )
        # The params object is kept with its activation so its id cannot be reused meanwhile.
        self._activations[key] = (params, activation)
        return activation


class _Evaluator(Evaluator):
    """celpy's tree-walking evaluator, with a cheaper variable lookup.

    celpy's ``Activation.resolve_variable`` builds a ``typing.Union`` on every lookup (for a
    ``cast``), which costs more than the lookup itself; this one resolves the same name the
    same way without it. Macro bodies are evaluated by the same class.
    """

    def ident_value(self, name: str, root_scope: bool = False) -> Any:
        activation = self.activation
        try:
            return activation.identifiers.resolve_name(activation.package, name).value
        except KeyError:
            return activation.functions[name]

    def sub_evaluator(self, ast: lark.Tree[lark.Token]) -> Evaluator:
        return _Evaluator(ast, activation=self.activation)


@dataclass(frozen=True)
class Condition:
    """A compiled CEL condition over named variables."""

    source: str
    variables: frozenset[str]
    _tree: lark.Tree[lark.Token]
    #: the tree celpy evaluates: ``_tree`` without its one-child precedence levels
    _program: lark.Tree[lark.Token]

    def evaluate(self, variables: Mapping[str, Any]) -> bool:
        """Evaluate with JSON-like values; raise EvaluationError unless the result is a bool.

        ``variables["params"]`` may be a :class:`Params` or a plain mapping.
        """
        raw = variables.get("params")
        params = raw if isinstance(raw, Params) or raw is None else Params(raw)
        return self.evaluate_in(Bindings(variables, self.variables), params)

    def evaluate_in(self, bindings: Bindings, params: Params | None) -> bool:
        """Evaluate against a check's bindings and a pack's params; as :meth:`evaluate`."""
        try:
            result = _Evaluator(self._program, bindings.activation(params)).evaluate()
        except CELEvalError as error:
            raise EvaluationError(_describe(error)) from None
        except (TypeError, ValueError, KeyError, ZeroDivisionError) as error:
            raise EvaluationError(f"{type(error).__name__}: {error}") from None
        if isinstance(result, CELEvalError):
            raise EvaluationError(_describe(result))
        if not isinstance(result, celtypes.BoolType):
            raise EvaluationError(f"the condition gave {type(result).__name__}, not a bool")
        return bool(result)

    def scope(self, params: Mapping[str, Any]) -> dict[str, frozenset[str]]:
        """The names each scoping variable must have for the condition to hold.

        A top-level ``&&`` term ``v in params.<list of strings>``, ``v in [<strings>]``,
        ``v == "<string>"`` or ``"<string>" == v`` pins the variable ``v``: CEL's ``&&`` is false
        as soon as one term is false, even when another term is an error, so for any other value
        of ``v`` the condition is false and evaluating it cannot produce a verdict. Terms of
        ``||``, ``!`` or macros pin nothing. Several terms on one variable intersect.
        """
        pinned: dict[str, frozenset[str]] = {}
        for term in _conjuncts(self._tree):
            found = _pinning(term, params)
            if found is not None:
                name, values = found
                pinned[name] = pinned[name] & values if name in pinned else values
        return pinned


#: one-child levels that only hand their child's value up (celpy visits them generically)
_PRUNABLE = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
    }
)
#: the same, and a primary: what lies between a term and its identifier or literal
_PASS_THROUGH = _PRUNABLE | {"primary"}


def _single(
    node: lark.Tree[lark.Token], levels: frozenset[str] = _PASS_THROUGH
) -> lark.Tree[lark.Token]:
    """The node under a chain of one-child ``levels`` (expr, relation, member, ...)."""
    while node.data in levels and len(node.children) == 1:
        child = node.children[0]
        if not isinstance(child, lark.Tree):
            break
        node = child
    return node


def _prune(node: lark.Tree[lark.Token]) -> lark.Tree[lark.Token]:
    """A copy of the tree without the one-child precedence levels between operators.

    Each level (``expr`` over ``conditionalor`` over ... over ``member``) with a single child
    only hands its child's value up, so ``a.b`` costs seven visits before any work. celpy's
    evaluator visits such a level's child without looking at its kind; every node it does look
    at (operators, primaries, macro arguments) is kept as it is, with its position.
    """
    node = _single(node, _PRUNABLE)
    children = [_prune(c) if isinstance(c, lark.Tree) else c for c in node.children]
    return lark.Tree(node.data, children, meta=node.meta)


def _conjuncts(tree: lark.Tree[lark.Token]) -> list[lark.Tree[lark.Token]]:
    """The top-level terms of a chain of ``&&`` (parentheses included), left to right."""
    node = _single(tree)
    if node.data == "paren_expr" and len(node.children) == 1:
        inner = node.children[0]
        return _conjuncts(inner) if isinstance(inner, lark.Tree) else [node]
    if node.data == "conditionaland" and len(node.children) == 2:
        left, right = node.children
        if isinstance(left, lark.Tree) and isinstance(right, lark.Tree):
            return [*_conjuncts(left), *_conjuncts(right)]
    return [node]


def _identifier(node: lark.Tree[lark.Token]) -> str | None:
    node = _single(node)
    if node.data == "ident" and len(node.children) == 1:
        return _token(node.children[0])
    return None


def _strings(node: lark.Tree[lark.Token], params: Mapping[str, Any]) -> frozenset[str] | None:
    """The strings a term denotes: a string literal, a list of them, or a params list of them."""
    node = _single(node)
    if node.data == "literal":
        value = _literal_string(node)
        return frozenset({value}) if value is not None else None
    if node.data == "member_dot" and len(node.children) == 2:
        base, field_name = node.children
        if isinstance(base, lark.Tree) and _identifier(base) == "params":
            values = params.get(_token(field_name))
            if isinstance(values, list) and all(isinstance(v, str) for v in values):
                return frozenset(values)
        return None
    if node.data == "list_lit" and len(node.children) == 1:
        exprlist = node.children[0]
        if not isinstance(exprlist, lark.Tree):
            return None
        items = [_strings(c, {}) for c in exprlist.children if isinstance(c, lark.Tree)]
        if items and all(item is not None and len(item) == 1 for item in items):
            return frozenset(value for item in items if item is not None for value in item)
    return None


def _pinning(
    term: lark.Tree[lark.Token], params: Mapping[str, Any]
) -> tuple[str, frozenset[str]] | None:
    """(variable, names) when ``term`` is ``v in <strings>`` or ``v == <string>``."""
    if term.data != "relation" or len(term.children) != 2:
        return None
    operator, right = term.children
    if not isinstance(operator, lark.Tree) or not isinstance(right, lark.Tree):
        return None
    if len(operator.children) != 1 or not isinstance(operator.children[0], lark.Tree):
        return None
    left = operator.children[0]
    if operator.data == "relation_in":
        name = _identifier(left)
        values = _strings(right, params)
        return (name, values) if name is not None and values is not None else None
    if operator.data == "relation_eq":
        for variable, constant in ((left, right), (right, left)):
            name = _identifier(variable)
            values = _strings(constant, {})
            if name is not None and values is not None and len(values) == 1:
                return name, values
    return None


def _describe(error: CELEvalError) -> str:
    return str(error.args[0]) if error.args else "evaluation failed"


@functools.lru_cache(maxsize=1024)
def _parse(source: str) -> lark.Tree[lark.Token]:
    # Packs share expressions (and re-loads parse the same ones): parse each text once.
    return _ENVIRONMENT.compile(source)


def compile_condition(source: str, available: Iterable[str]) -> Condition:
    """Parse and check ``source``; raise ExpressionError saying what is wrong."""
    try:
        tree = _parse(source)
    except CELParseError as error:
        detail = " ".join(str(error).split())
        raise ExpressionError(f"does not parse: {detail}") from None
    analysis = _analyse(tree)
    allowed = frozenset(available)
    unknown = sorted(analysis.variables - allowed)
    if unknown:
        raise ExpressionError(
            f"reads {', '.join(unknown)}, not available here"
            f" (available: {', '.join(sorted(allowed))})"
        )
    missing = sorted(analysis.functions - _KNOWN_FUNCTIONS)
    if missing:
        raise ExpressionError(f"calls unknown function {', '.join(missing)}")
    for pattern in analysis.patterns:
        if isinstance(function_matches("", pattern), CELEvalError):
            raise ExpressionError(f"pattern {pattern!r} is not a valid RE2 regular expression")
    return Condition(source=source, variables=analysis.variables, _tree=tree, _program=_prune(tree))
