"""Reading tools out of one OpenAPI 3.1 document.

The document is the single source of truth: every tool field is derived from it, and anything the
catalogue cannot derive faithfully (an external $ref, a recursive schema, a body that is not an
object, two arguments with one name) is a :class:`DocumentError` naming where in the document it is.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from services.catalogue.facts import FactError, parse_facts
from services.catalogue.spec import MEDIA_KINDS, ArgumentBinding, Location, ToolSpec

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
IDEMPOTENCY_HEADER = "Idempotency-Key"
# OpenAPI says these header parameters are ignored: the transport owns them.
_TRANSPORT_HEADERS = frozenset({"accept", "content-type", "authorization"})
# Tool names go to models as function names, which allow at most 64 of these characters.
_TOOL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_PATH_PARAM = re.compile(r"\{([^{}]+)\}")
_STATUS_RANGE = re.compile(r"^[1-5]XX$")
# Keywords that only annotate a schema, so they can sit beside a $ref and simply be merged in.
_ANNOTATIONS = frozenset(
    {
        "description",
        "summary",
        "title",
        "example",
        "examples",
        "default",
        "deprecated",
        "x-switchboard-public",
    }
)
_EXTENSION_KEYS = frozenset({"read_only", "confirm", "media", "pii", "facts"})


class DocumentError(Exception):
    """The document cannot be turned into tools; the message says where and why."""


@dataclass(frozen=True)
class ResponseContract:
    """What a tool's backend may answer: a JSON Schema per status, status range or default."""

    #: "200", "4XX" or "default" -> schema of the JSON body, None when the response has no body
    bodies: Mapping[str, dict[str, Any] | None]

    def schema_key(self, status: int) -> str | None:
        """The documented response that covers ``status``, or None when none does."""
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in self.bodies:
                return key
        return None


@dataclass(frozen=True)
class Operation:
    """One tool as read from the document."""

    spec: ToolSpec
    binding: ArgumentBinding
    contract: ResponseContract


def read_document(backend: str, document: Any) -> list[Operation]:
    """Every operation of a backend's OpenAPI 3.1 document, as tools."""
    if not isinstance(document, dict):
        raise DocumentError("the document is not a mapping")
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3.1"):
        raise DocumentError(f"'openapi' must be a 3.1 version, got {version!r}")
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise DocumentError("'paths' must be a non-empty mapping")
    resolver = _Resolver(document)
    operations = []
    seen: dict[str, str] = {}
    for path, raw_item in paths.items():
        where = f"paths.{path}"
        item = _mapping(resolver.resolve(raw_item, where), where)
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op_where = f"{where}.{method}"
            operation = _read_operation(backend, path, method, item, resolver, op_where)
            name = operation.spec.name
            if name in seen:
                raise DocumentError(
                    f"{op_where}: operationId {name!r} is also used by {seen[name]}"
                )
            seen[name] = op_where
            operations.append(operation)
    return operations


def _read_operation(
    backend: str,
    path: str,
    method: str,
    item: dict[str, Any],
    resolver: _Resolver,
    where: str,
) -> Operation:
    operation = _mapping(resolver.resolve(item[method], where), where)
    name = operation.get("operationId")
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise DocumentError(
            f"{where}: operationId must match {_TOOL_NAME.pattern} (it names the tool), "
            f"got {name!r}"
        )
    where = f"{where} ({name})"
    description = operation.get("summary") or operation.get("description")
    if not isinstance(description, str) or not description.strip():
        raise DocumentError(f"{where}: has no summary to describe the tool")

    properties: dict[str, Any] = {}
    required: list[str] = []
    locations: dict[str, Location] = {}
    idempotent = False
    for param in _parameters(item, operation, resolver, where):
        location, pname = param["in"], param["name"]
        if location == "header" and pname.lower() == IDEMPOTENCY_HEADER.lower():
            idempotent = True  # the broker sets it; it is never an argument
            continue
        if location == "header" and pname.lower() in _TRANSPORT_HEADERS:
            continue
        if location == "cookie":
            raise DocumentError(f"{where}: cookie parameter {pname!r} is not supported")
        if location not in ("path", "query", "header"):
            raise DocumentError(f"{where}: parameter {pname!r} has unknown location {location!r}")
        _add_argument(
            properties, locations, pname, location, _parameter_schema(param, where), where
        )
        if location == "path" or param.get("required") is True:
            required.append(pname)

    template_names = _PATH_PARAM.findall(path)
    path_args = [n for n, where_ in locations.items() if where_ == "path"]
    if sorted(template_names) != sorted(path_args):
        raise DocumentError(
            f"{where}: path template parameters {sorted(template_names)} do not match the "
            f"declared path parameters {sorted(path_args)}"
        )

    if "requestBody" in operation:
        body_props, body_required = _body_members(
            resolver.resolve(operation["requestBody"], f"{where}.requestBody"), where
        )
        for pname, schema in body_props.items():
            _add_argument(properties, locations, pname, "body", schema, where)
        required.extend(r for r in body_required if r not in required)

    parameters: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    extension = _extension(operation.get("x-switchboard"), method, where)
    contract = _responses(operation.get("responses"), resolver, where)
    try:
        facts = parse_facts(extension["facts"], contract.bodies)
    except FactError as error:
        raise DocumentError(f"{where}: {error}") from error
    spec = ToolSpec(
        name=name,
        backend=backend,
        method=method.upper(),
        path=path,
        description=" ".join(description.split()),
        parameters=parameters,
        read_only=extension["read_only"],
        confirm=extension["confirm"],
        media=extension["media"],
        pii_types=extension["pii"],
        responses={int(k): v for k, v in contract.bodies.items() if k.isdigit() and v is not None},
        facts=facts,
    )
    return Operation(spec, ArgumentBinding(locations=locations, idempotent=idempotent), contract)


def _parameters(
    item: dict[str, Any], operation: dict[str, Any], resolver: _Resolver, where: str
) -> Iterator[dict[str, Any]]:
    # Operation-level parameters override path-level ones with the same name and location.
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for level, raw in (
        ("path item", item.get("parameters")),
        ("operation", operation.get("parameters")),
    ):
        if raw is None:
            continue
        if not isinstance(raw, list):
            raise DocumentError(f"{where}: {level} 'parameters' must be a list")
        for index, entry in enumerate(raw):
            p_where = f"{where}.parameters[{index}]"
            param = _mapping(resolver.resolve(entry, p_where), p_where)
            pname, location = param.get("name"), param.get("in")
            if not isinstance(pname, str) or not isinstance(location, str):
                raise DocumentError(f"{p_where}: a parameter needs a string 'name' and 'in'")
            merged[(location, pname)] = param
    yield from merged.values()


def _parameter_schema(param: dict[str, Any], where: str) -> dict[str, Any]:
    schema = param.get("schema")
    if not isinstance(schema, dict):
        raise DocumentError(f"{where}: parameter {param['name']!r} needs a 'schema'")
    schema = dict(schema)
    if "description" in param and "description" not in schema:
        schema["description"] = param["description"]
    return schema


def _add_argument(
    properties: dict[str, Any],
    locations: dict[str, Location],
    name: str,
    location: Location,
    schema: dict[str, Any],
    where: str,
) -> None:
    if name in locations:
        raise DocumentError(
            f"{where}: argument {name!r} is declared twice "
            f"(as a {locations[name]} argument and as a {location} argument)"
        )
    properties[name] = schema
    locations[name] = location


def _body_members(body: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    body = _mapping(body, f"{where}.requestBody")
    content = _mapping(body.get("content"), f"{where}.requestBody.content")
    media = _json_media(content)
    if media is None:
        raise DocumentError(
            f"{where}: request body has no JSON content (got {sorted(content)}); "
            "only JSON bodies can be flattened into arguments"
        )
    schema = content[media].get("schema") if isinstance(content[media], dict) else None
    if not isinstance(schema, dict):
        raise DocumentError(f"{where}: request body {media} needs a 'schema'")
    return _object_members(schema, f"{where}.requestBody")


def _object_members(schema: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    if "allOf" in schema:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for index, part in enumerate(schema["allOf"]):
            props, req = _object_members(_mapping(part, where), f"{where}.allOf[{index}]")
            properties.update(props)
            required.extend(r for r in req if r not in required)
        return properties, required
    kind = schema.get("type", "object")
    if kind != "object" or not isinstance(schema.get("properties"), dict):
        raise DocumentError(
            f"{where}: the body schema must be an object with 'properties' (or an allOf of such) "
            "to be flattened into arguments"
        )
    required = schema.get("required", [])
    if not isinstance(required, list):
        raise DocumentError(f"{where}: 'required' must be a list")
    return dict(schema["properties"]), list(required)


def _extension(raw: Any, method: str, where: str) -> dict[str, Any]:
    extension = {} if raw is None else raw
    if not isinstance(extension, dict):
        raise DocumentError(f"{where}: x-switchboard must be a mapping")
    unknown = set(extension) - _EXTENSION_KEYS
    if unknown:
        raise DocumentError(
            f"{where}: x-switchboard has unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(_EXTENSION_KEYS)}"
        )
    read_only = extension.get("read_only", method in ("get", "head"))
    confirm = extension.get("confirm", False)
    for key, value in (("read_only", read_only), ("confirm", confirm)):
        if not isinstance(value, bool):
            raise DocumentError(f"{where}: x-switchboard.{key} must be true or false")
    media = extension.get("media")
    if media is not None and media not in MEDIA_KINDS:
        raise DocumentError(f"{where}: x-switchboard.media must be one of {list(MEDIA_KINDS)}")
    pii = extension.get("pii", [])
    if not isinstance(pii, list) or not all(isinstance(t, str) and t for t in pii):
        raise DocumentError(f"{where}: x-switchboard.pii must be a list of entity type names")
    return {
        "read_only": read_only,
        "confirm": confirm,
        "media": media,
        "pii": frozenset(pii),
        "facts": extension.get("facts"),
    }


def _responses(raw: Any, resolver: _Resolver, where: str) -> ResponseContract:
    responses = _mapping(raw, f"{where}.responses")
    bodies: dict[str, dict[str, Any] | None] = {}
    for code, entry in responses.items():
        key = str(code)
        r_where = f"{where}.responses.{key}"
        if not (key == "default" or _STATUS_RANGE.match(key) or (key.isdigit() and len(key) == 3)):
            raise DocumentError(f"{r_where}: not a status code, a range like 4XX, or 'default'")
        response = _mapping(resolver.resolve(entry, r_where), r_where)
        content = response.get("content")
        if not content:
            bodies[key] = None
            continue
        content = _mapping(content, f"{r_where}.content")
        media = _json_media(content)
        schema = (
            content[media].get("schema") if media and isinstance(content[media], dict) else None
        )
        # A non-JSON body (an image, say) is not validated; an empty schema accepts it.
        bodies[key] = schema if isinstance(schema, dict) else {}
    if not bodies:
        raise DocumentError(f"{where}: documents no responses")
    return ResponseContract(bodies)


def _json_media(content: Mapping[str, Any]) -> str | None:
    for media in content:
        base = media.split(";")[0].strip().lower()
        if base == "application/json" or base.endswith("+json"):
            return media
    return None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DocumentError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


class _Resolver:
    """Inlines local $refs ("#/components/..."), refusing external and recursive ones."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    def resolve(self, node: Any, where: str) -> Any:
        return self._resolve(copy.deepcopy(node), where, ())

    def _resolve(self, node: Any, where: str, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self._resolve(item, where, stack) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise DocumentError(
                    f"{where}: only local $refs ('#/...') are supported, got {ref!r}"
                )
            if ref in stack:
                chain = " -> ".join([*stack, ref])
                raise DocumentError(f"{where}: recursive $ref cannot be inlined: {chain}")
            target = self._resolve(copy.deepcopy(self._lookup(ref, where)), where, (*stack, ref))
            siblings = {k: self._resolve(v, where, stack) for k, v in node.items() if k != "$ref"}
            if not siblings:
                return target
            if set(siblings) <= _ANNOTATIONS and isinstance(target, dict):
                return {**target, **siblings}
            return {"allOf": [target, siblings]}
        return {key: self._resolve(value, where, stack) for key, value in node.items()}

    def _lookup(self, ref: str, where: str) -> Any:
        node: Any = self._document
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise DocumentError(f"{where}: $ref {ref!r} points at nothing")
        return cast(Any, node)
