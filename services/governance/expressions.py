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
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, CELFunction, base_functions, function_matches

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


def to_cel(value: Any) -> celtypes.Value:
    """A JSON-like Python value as a CEL value."""
    return json_to_cel(value)


@dataclass(frozen=True)
class Condition:
    """A compiled CEL condition over named variables."""

    source: str
    variables: frozenset[str]
    _program: celpy.Runner

    def evaluate(self, variables: Mapping[str, Any]) -> bool:
        """Evaluate with JSON-like values; raise EvaluationError unless the result is a bool."""
        activation = {name: to_cel(variables.get(name)) for name in self.variables}
        try:
            result = self._program.evaluate(activation)
        except CELEvalError as error:
            raise EvaluationError(_describe(error)) from None
        except (TypeError, ValueError, KeyError, ZeroDivisionError) as error:
            raise EvaluationError(f"{type(error).__name__}: {error}") from None
        if isinstance(result, CELEvalError):
            raise EvaluationError(_describe(result))
        if not isinstance(result, celtypes.BoolType):
            raise EvaluationError(f"the condition gave {type(result).__name__}, not a bool")
        return bool(result)


def _describe(error: CELEvalError) -> str:
    return str(error.args[0]) if error.args else "evaluation failed"


def compile_condition(source: str, available: Iterable[str]) -> Condition:
    """Parse and check ``source``; raise ExpressionError saying what is wrong."""
    try:
        tree = _ENVIRONMENT.compile(source)
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
    program = _ENVIRONMENT.program(tree, functions=FUNCTIONS)
    return Condition(source=source, variables=analysis.variables, _program=program)
