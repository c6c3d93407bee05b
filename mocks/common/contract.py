"""A backend's OpenAPI 3.1 document, read once and turned into request validators.

The document is the single source of truth: routes, parameters, bodies and their JSON Schemas
all come from it, so a mock cannot accept what its contract forbids or drift from it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from mocks.common.problems import FieldError, Problem

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
ParamLocation = Literal["path", "query", "header"]

_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class ContractError(Exception):
    """The OpenAPI document itself is broken: a dangling reference, a duplicate operationId."""


@dataclass(frozen=True)
class Parameter:
    """One path, query or header parameter and its JSON Schema."""

    name: str
    location: ParamLocation
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True)
class ParsedRequest:
    """A request that honours its operation's contract."""

    params: dict[str, Any]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Operation:
    """One operation of the contract with everything needed to check a request against it."""

    operation_id: str
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[Parameter, ...]
    body_schema: dict[str, Any] | None
    body_required: bool
    responses: dict[int, dict[str, Any] | None]
    extension: dict[str, Any]
    _validators: dict[str, Draft202012Validator] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for location in ("path", "query", "header"):
            schema = _parameters_schema(p for p in self.parameters if p.location == location)
            self._validators[location] = _validator(schema)
        if self.body_schema is not None:
            self._validators["body"] = _validator(self.body_schema)

    def parse(
        self,
        path_params: Mapping[str, str],
        query: Iterable[tuple[str, str]],
        headers: Mapping[str, str],
        body: Any,
        has_body: bool,
    ) -> ParsedRequest:
        """Coerce and validate a request; raise a 400 Problem listing every violation."""
        errors: list[FieldError] = []
        values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
        query_values: dict[str, list[str]] = {}
        for name, value in query:
            query_values.setdefault(name, []).append(value)
        for parameter in self.parameters:
            raw: str | None
            if parameter.location == "path":
                raw = path_params.get(parameter.name)
            elif parameter.location == "query":
                given = query_values.get(parameter.name)
                if given and len(given) > 1:
                    errors.append(
                        FieldError(f"query.{parameter.name}", "must be given at most once")
                    )
                raw = given[0] if given else None
            else:
                raw = headers.get(parameter.name.lower())
            if raw is not None:
                values[parameter.location][parameter.name] = _coerce(raw, parameter.schema)
        for location, instance in values.items():
            errors.extend(_errors(self._validators[location], instance, location))
        parsed_body: Any = None
        if self.body_schema is not None:
            if not has_body:
                if self.body_required:
                    errors.append(FieldError("body", "a JSON request body is required"))
            else:
                parsed_body = body
                errors.extend(_errors(self._validators["body"], body, "body"))
        elif has_body:
            errors.append(FieldError("body", "this operation takes no request body"))
        if errors:
            summary = "; ".join(f"{e.location}: {e.message}" for e in errors)
            raise Problem(
                400,
                "invalid-request",
                f"the request breaks the contract of {self.operation_id}: {summary}",
                errors,
            )
        params = {**values["path"], **values["query"]}
        return ParsedRequest(params=params, headers=values["header"], body=parsed_body)


@dataclass(frozen=True)
class Contract:
    """A backend's OpenAPI document and its operations."""

    document: dict[str, Any]
    operations: tuple[Operation, ...]

    @classmethod
    def load(cls, path: Path) -> Contract:
        """Read and check an OpenAPI 3.1 YAML document."""
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ContractError(f"cannot read OpenAPI document {path}: {error}") from error
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
            raise ContractError(f"{path} is not an OpenAPI 3.1 document")
        return cls(document=document, operations=tuple(_operations(document, path)))

    @property
    def title(self) -> str:
        return str(self.document["info"]["title"])

    def operation(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _errors(validator: Draft202012Validator, instance: Any, location: str) -> list[FieldError]:
    found = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    return [FieldError(_locate(location, error), error.message) for error in found]


def _locate(location: str, error: ValidationError) -> str:
    parts = [location, *(str(part) for part in error.path)]
    if error.validator == "required":
        # "'x' is a required property": point at x itself rather than at its parent.
        parts.append(str(error.message).split("'")[1])
    return ".".join(parts)


def _parameters_schema(parameters: Iterable[Parameter]) -> dict[str, Any]:
    chosen = list(parameters)
    return {
        "type": "object",
        "properties": {p.name: p.schema for p in chosen},
        "required": [p.name for p in chosen if p.required],
    }


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """Turn a parameter's text into the JSON type its schema names; leave it if it cannot be."""
    types = schema.get("type", "string")
    kinds = set(types) if isinstance(types, list) else {types}
    if "integer" in kinds and _INTEGER.match(raw):
        return int(raw)
    if "number" in kinds and _NUMBER.match(raw):
        return float(raw)
    if "boolean" in kinds and raw in ("true", "false"):
        return raw == "true"
    return raw


def _operations(document: dict[str, Any], source: Path) -> Iterable[Operation]:
    seen: set[str] = set()
    for path, item in (document.get("paths") or {}).items():
        shared = item.get("parameters", [])
        for method in HTTP_METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            spec = resolve(spec, document)
            operation_id = spec.get("operationId")
            if not operation_id or operation_id in seen:
                raise ContractError(f"{source}: {method.upper()} {path} needs a unique operationId")
            seen.add(operation_id)
            parameters = [resolve(p, document) for p in [*shared, *spec.get("parameters", [])]]
            body = spec.get("requestBody")
            body_schema = None
            if body is not None:
                media = body.get("content", {}).get("application/json")
                if media is None:
                    raise ContractError(f"{source}: {operation_id} body must be application/json")
                body_schema = media.get("schema", {})
            yield Operation(
                operation_id=operation_id,
                method=method.upper(),
                path=path,
                summary=spec.get("summary", ""),
                description=spec.get("description", ""),
                parameters=tuple(
                    Parameter(
                        name=p["name"],
                        location=p["in"],
                        required=bool(p.get("required", p["in"] == "path")),
                        schema=p.get("schema", {}),
                    )
                    for p in parameters
                    if p["in"] in ("path", "query", "header")
                ),
                body_schema=body_schema,
                body_required=bool(body and body.get("required", False)),
                responses={
                    int(status): _response_schema(response)
                    for status, response in spec.get("responses", {}).items()
                    if str(status).isdigit()
                },
                extension=spec.get("x-switchboard", {}),
            )


def _response_schema(response: Mapping[str, Any]) -> dict[str, Any] | None:
    """The schema of a response's JSON (or problem+json) body; None when it has no body."""
    for media in response.get("content", {}).values():
        schema = media.get("schema")
        return dict(schema) if schema is not None else None
    return None


def resolve(node: Any, document: Mapping[str, Any], trail: tuple[str, ...] = ()) -> Any:
    """A copy of ``node`` with every local ``$ref`` replaced by what it points at."""
    if isinstance(node, list):
        return [resolve(item, document, trail) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        reference = node["$ref"]
        if not isinstance(reference, str) or not reference.startswith("#/"):
            raise ContractError(f"only local references are supported, got {reference!r}")
        if reference in trail:
            raise ContractError(f"recursive reference {reference}")
        target: Any = document
        for part in reference[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise ContractError(f"dangling reference {reference}")
            target = target[part]
        resolved = resolve(copy.deepcopy(target), document, (*trail, reference))
        siblings = {k: resolve(v, document, trail) for k, v in node.items() if k != "$ref"}
        return {**resolved, **siblings} if isinstance(resolved, dict) else resolved
    return {key: resolve(value, document, trail) for key, value in node.items()}
