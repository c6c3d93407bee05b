"""Build a mock backend's Starlette app from its contract and one handler per operationId.

Every request goes through one path: it is logged, faults are injected, it is matched to an
operation of the contract and validated against it (400 problem+json when it breaks it), then
its handler runs, behind an idempotency key when the operation declares one. Admin endpoints
under ``/_admin`` (faults and the request log) sit outside the contract.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mocks.common.contract import Contract, Operation
from mocks.common.faults import FaultConfig, FaultInjector
from mocks.common.idempotency import IdempotencyStore
from mocks.common.problems import PROBLEM_MEDIA_TYPE, FieldError, Problem
from mocks.common.requestlog import RequestLog, RequestRecord

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Call:
    """A validated request: path and query parameters by name, the JSON body, the headers."""

    operation: Operation
    params: dict[str, Any]
    body: Any
    headers: dict[str, str]

    def arg(self, name: str, default: Any = None) -> Any:
        """A parameter, or a property of the body, by name."""
        if name in self.params:
            return self.params[name]
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        return default


@dataclass(frozen=True)
class Reply:
    """A handler's answer: a JSON body and its status."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply]]


class _Dropped(Response):
    """Starts a response and never finishes it, so the server closes the connection mid-reply."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
            }
        )


@dataclass(frozen=True)
class _Route:
    operation: Operation
    pattern: re.Pattern[str]
    handler: Handler


class MockBackend:
    """A backend's contract, handlers, faults and request log; ``app`` serves them."""

    def __init__(
        self,
        name: str,
        contract: Contract,
        handlers: Mapping[str, Handler],
        faults: FaultConfig | None = None,
        validate_responses: bool = True,
    ) -> None:
        declared = {operation.operation_id for operation in contract.operations}
        if missing := declared - set(handlers):
            raise ValueError(f"{name}: no handler for {sorted(missing)}")
        if extra := set(handlers) - declared:
            raise ValueError(
                f"{name}: handlers for operations not in the contract: {sorted(extra)}"
            )
        self.name = name
        self.contract = contract
        self.faults = FaultInjector(faults)
        self.log = RequestLog()
        self.validate_responses = validate_responses
        self._idempotency = IdempotencyStore()
        # Templates with fewer parameters first, so a literal segment wins over a parameter.
        ordered = sorted(contract.operations, key=lambda op: (op.path.count("{"), op.path))
        self._routes = [_Route(op, _compile(op.path), handlers[op.operation_id]) for op in ordered]
        self._response_validators = {
            (op.operation_id, status): Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
            for op in contract.operations
            for status, schema in op.responses.items()
            if schema is not None
        }
        self.app = Starlette(
            routes=[
                Route("/openapi.json", self._openapi_json, methods=["GET"]),
                Route("/_admin/faults", self._faults, methods=["GET", "PUT", "DELETE"]),
                Route("/_admin/requests", self._requests, methods=["GET", "DELETE"]),
            ]
        )
        # Everything the admin routes do not match is the contract's business; being the
        # router's fallback, dispatch sees every path, even ones a route pattern would reject.
        self.app.router.default = self._asgi
        self.app.state.backend = self

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._dispatch(Request(scope, receive))
        await response(scope, receive, send)

    async def _dispatch(self, request: Request) -> Response:
        started = time.time()
        raw = await request.body()
        query = dict(request.query_params)
        body, body_problem = _parse_body(raw, request.headers.get("content-type", ""))
        record = self.log.open(
            method=request.method,
            path=request.url.path,
            query=query,
            body=body if body_problem is None else raw.decode("utf-8", "replace"),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            started_at=started,
        )
        try:
            response = await self._serve(request, record, raw, body, body_problem)
        except Problem as problem:
            response = problem.response(request.url.path)
        except Exception:
            logger.exception("%s: %s %s failed", self.name, request.method, request.url.path)
            response = Problem(500, "internal", "the backend failed unexpectedly").response()
        record.ended_at = time.time()
        record.status = None if isinstance(response, _Dropped) else response.status_code
        return response

    async def _serve(
        self,
        request: Request,
        record: RequestRecord,
        raw: bytes,
        body: Any,
        body_problem: Problem | None,
    ) -> Response:
        # The path as the server received it: ``request.url`` re-parses it with urlsplit, which
        # drops tabs and line breaks, so "/customers/%0D/..." would lose its parameter.
        route, path_params = self._match(request.method, request.scope["path"])
        record.operation_id = route.operation.operation_id
        decision = self.faults.decide(route.operation.operation_id)
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        if decision.error_status is not None:
            record.fault = "error"
            raise Problem(decision.error_status, "injected-fault", "injected fault: try again")
        if decision.timeout_s is not None and decision.timeout_phase == "before":
            record.fault = "timeout"
            await asyncio.sleep(decision.timeout_s)
            return _Dropped()
        if body_problem is not None:
            raise body_problem
        parsed = route.operation.parse(
            path_params, request.query_params.multi_items(), request.headers, body, bool(raw)
        )
        call = Call(route.operation, parsed.params, parsed.body, parsed.headers)
        key = parsed.headers.get(IDEMPOTENCY_HEADER)
        reply = await self._run(route, call, key, request.url.path)
        if decision.timeout_s is not None:
            record.fault = "timeout"
            await asyncio.sleep(decision.timeout_s)
            return _Dropped()
        return JSONResponse(reply.body, status_code=reply.status, headers=dict(reply.headers))

    async def _run(self, route: _Route, call: Call, key: str | None, path: str) -> Reply:
        async def attempt() -> Reply:
            try:
                reply = await route.handler(call)
            except Problem as problem:
                reply = Reply(problem.to_json(path), problem.status)
            self._check_reply(route.operation, reply)
            return reply

        if key is None:
            reply = await attempt()
        else:
            reply, replayed = await self._idempotency.run(
                key, (call.operation.method, path, call.body), attempt, lambda r: r.status < 500
            )
            if replayed:
                reply = Reply(
                    reply.body, reply.status, {**reply.headers, "Idempotent-Replayed": "true"}
                )
        if reply.status >= 400:
            return Reply(
                reply.body, reply.status, {**reply.headers, "content-type": PROBLEM_MEDIA_TYPE}
            )
        return reply

    def _check_reply(self, operation: Operation, reply: Reply) -> None:
        if not self.validate_responses:
            return
        if reply.status not in operation.responses:
            raise Problem(
                500,
                "contract-violation",
                f"{operation.operation_id} answered {reply.status}, which its contract omits",
            )
        validator = self._response_validators.get((operation.operation_id, reply.status))
        if validator is None:
            return
        errors = sorted(validator.iter_errors(reply.body), key=lambda e: [str(p) for p in e.path])
        if errors:
            found = [
                FieldError(".".join(["response", *(str(p) for p in e.path)]), e.message)
                for e in errors
            ]
            raise Problem(
                500,
                "contract-violation",
                f"{operation.operation_id} built a response its contract forbids",
                found,
            )

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.operation.method == method:
                return route, match.groupdict()
            allowed.append(route.operation.method)
        if allowed:
            raise Problem(
                405,
                "method-not-allowed",
                f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise Problem(404, "not-found", f"no operation of the {self.name} API matches {path}")

    async def _openapi_json(self, request: Request) -> Response:
        return JSONResponse(self.contract.document)

    async def _faults(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                config = FaultConfig.model_validate_json(await request.body())
            except ValidationError as error:
                problems = [
                    FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
                    for e in error.errors()
                ]
                return Problem(
                    400, "invalid-faults", "invalid fault configuration", problems
                ).response()
            unknown = set(config.operations) - {op.operation_id for op in self.contract.operations}
            if unknown:
                return Problem(
                    400, "invalid-faults", f"no such operations in {self.name}: {sorted(unknown)}"
                ).response()
            self.faults.configure(config)
        elif request.method == "DELETE":
            self.faults.configure(FaultConfig())
        return JSONResponse(self.faults.config.model_dump(mode="json"))

    async def _requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.log.clear()
            return Response(status_code=204)
        return JSONResponse({"requests": [r.to_json() for r in self.log.records()]})


def build_app(
    name: str,
    contract: Contract,
    handlers: Mapping[str, Handler],
    faults: FaultConfig | None = None,
    validate_responses: bool = True,
) -> Starlette:
    """The Starlette app of a mock backend; ``app.state.backend`` is its :class:`MockBackend`."""
    return MockBackend(name, contract, handlers, faults, validate_responses).app


def backend_of(app: Starlette) -> MockBackend:
    """The backend behind an app made by :func:`build_app`."""
    backend = app.state.backend
    if not isinstance(backend, MockBackend):
        raise TypeError("not a mock backend app")
    return backend


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{([^}]+)\}", template)
    pattern = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{pattern}$")


def _parse_body(raw: bytes, content_type: str) -> tuple[Any, Problem | None]:
    if not raw:
        return None, None
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return None, Problem(
            415, "unsupported-media-type", f"the body must be application/json, got {media!r}"
        )
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, Problem(400, "invalid-json", f"the body is not valid JSON: {error}")
