"""The catalogue of every backend's tools, with their contracts compiled into validators."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

# No type stubs ship with jsonschema (types-jsonschema is not a dependency); its names are Any here.
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from services.catalogue.facts import read_facts
from services.catalogue.openapi import DocumentError, Operation, ResponseContract, read_document
from services.catalogue.public import JsonPath, PublicMarkError, check_marks, public_strings
from services.catalogue.spec import ArgumentBinding, ToolSpec
from services.runtime.errors import ConfigError

if TYPE_CHECKING:
    from services.tool_broker.config import Backend

# A PII placeholder as the pii service writes it, for example "<CARD_1>".
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_[0-9]+>")


@dataclass(frozen=True)
class _Entry:
    spec: ToolSpec
    binding: ArgumentBinding
    contract: ResponseContract
    arguments: Draft202012Validator
    responses: Mapping[str, Draft202012Validator | None]


class Catalogue:
    """Every tool of every backend, by name. Validators are compiled once, at load."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        self._entries = {entry.spec.name: entry for entry in entries}

    @classmethod
    def load(cls, backends: Mapping[str, Backend]) -> Catalogue:
        """Read every backend's OpenAPI document; a broken one raises ConfigError naming it."""
        entries: dict[str, _Entry] = {}
        owners: dict[str, Path] = {}
        for backend_name in sorted(backends):
            path = Path(backends[backend_name].openapi)
            try:
                document = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as error:
                raise ConfigError(
                    f"{path}: cannot read the OpenAPI document of backend {backend_name!r}: "
                    f"{error.strerror or error}"
                ) from error
            except yaml.YAMLError as error:
                raise ConfigError(f"{path}: not valid YAML: {error}") from error
            try:
                operations = read_document(backend_name, document)
                compiled = [_compile(op) for op in operations]
            except DocumentError as error:
                raise ConfigError(f"{path}: {error}") from error
            for entry in compiled:
                name = entry.spec.name
                if name in entries:
                    raise ConfigError(
                        f"{path}: operationId {name!r} is already a tool of backend "
                        f"{entries[name].spec.backend!r} ({owners[name]}); tool names must be "
                        "unique across backends"
                    )
                entries[name] = entry
                owners[name] = path
        return cls(entries.values())

    def get(self, name: str) -> ToolSpec | None:
        """The tool called ``name``, or None."""
        entry = self._entries.get(name)
        return entry.spec if entry else None

    def tools(self) -> list[ToolSpec]:
        """Every tool, sorted by name."""
        return [self._entries[name].spec for name in sorted(self._entries)]

    def binding(self, name: str) -> ArgumentBinding | None:
        """Where each of the tool's arguments goes in the HTTP request, or None for no such tool."""
        entry = self._entries.get(name)
        return entry.binding if entry else None

    def validate_arguments(
        self, name: str, arguments: Mapping[str, Any], *, allow_placeholders: bool = False
    ) -> list[str]:
        """Why the arguments break the tool's contract; [] when they are valid.

        With ``allow_placeholders``, a PII placeholder ("<CARD_1>") standing where the contract
        wants a string is accepted whatever its pattern or format: masked arguments cannot meet
        them, and are validated again once restored.
        """
        entry = self._entries.get(name)
        if entry is None:
            return [f"unknown tool {name!r}"]
        errors = entry.arguments.iter_errors(dict(arguments))
        if allow_placeholders:
            errors = (e for e in errors if not _is_placeholder_error(e))
        return _messages(name, "", errors)

    def malformed_dates(self, name: str, arguments: Mapping[str, Any]) -> list[JsonPath]:
        """Where the arguments hold a string that the contract wants as a calendar date
        (``format: date``, YYYY-MM-DD) and that is not one; [] for an unknown tool."""
        entry = self._entries.get(name)
        if entry is None:
            return []
        return [
            tuple(error.absolute_path)
            for error in entry.arguments.iter_errors(dict(arguments))
            if error.validator == "format"
            and error.validator_value == "date"
            and isinstance(error.instance, str)
            and error.absolute_path
        ]

    def validate_response(self, name: str, status: int, body: Any) -> list[str]:
        """Why a response breaks the tool's contract; [] when it is what the contract promises."""
        entry = self._entries.get(name)
        if entry is None:
            return [f"unknown tool {name!r}"]
        key = entry.contract.schema_key(status)
        if key is None:
            return [f"{name}: response status {status} is not documented"]
        validator = entry.responses[key]
        if validator is None:
            if body in (None, "", b""):
                return []
            return [f"{name}: response {status} must have no body"]
        return _messages(name, f"response {status}: ", validator.iter_errors(body))

    def facts(self, name: str, result: Mapping[str, Any]) -> dict[str, Any]:
        """The session facts a successful (masked) result of the tool gives, by its contract's
        ``x-switchboard.facts`` (:mod:`services.catalogue.facts`); {} for an unknown tool."""
        entry = self._entries.get(name)
        return read_facts(entry.spec.facts, result) if entry else {}

    def public_strings(self, name: str, status: int, body: Any) -> list[JsonPath]:
        """Where ``body`` holds strings its contract marks public reference data
        (``x-switchboard-public``, :mod:`services.catalogue.public`); [] for an unknown tool."""
        entry = self._entries.get(name)
        key = None if entry is None else entry.contract.schema_key(status)
        if entry is None or key is None:
            return []
        return public_strings(entry.contract.bodies.get(key), body)


def _compile(operation: Operation) -> _Entry:
    spec = operation.spec
    where = f"{spec.method.lower()} {spec.path} ({spec.name})"
    try:
        arguments = _validator(spec.parameters)
    except SchemaError as error:
        raise DocumentError(f"{where}: argument schema is invalid: {error.message}") from error
    responses: dict[str, Draft202012Validator | None] = {}
    for key, schema in operation.contract.bodies.items():
        try:
            check_marks(schema, f"{where}: response {key}")
            responses[key] = None if schema is None else _validator(schema)
        except PublicMarkError as error:
            raise DocumentError(str(error)) from error
        except SchemaError as error:
            raise DocumentError(
                f"{where}: response {key} schema is invalid: {error.message}"
            ) from error
    return _Entry(spec, operation.binding, operation.contract, arguments, responses)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _is_placeholder_error(error: ValidationError) -> bool:
    instance = error.instance
    return (
        isinstance(instance, str)
        and PLACEHOLDER.fullmatch(instance) is not None
        and error.validator != "type"
    )


def _messages(name: str, prefix: str, errors: Iterable[ValidationError]) -> list[str]:
    ordered = sorted(errors, key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    lines = []
    for error in ordered:
        where = ".".join(str(part) for part in error.absolute_path)
        lines.append(f"{name}: {prefix}{where + ' ' if where else ''}{error.message}")
    return lines
