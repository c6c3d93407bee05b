"""RFC 9457 problem details: how every mock says what is wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://switchboard.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One reason a request broke its contract, located by where it sits (``query.date``)."""

    location: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


@dataclass
class Problem(Exception):
    """An error answer. ``kind`` becomes the problem ``type`` URI (``.../problems/<kind>``)."""

    status: int
    kind: str
    detail: str
    errors: Sequence[FieldError] = field(default_factory=tuple)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    def to_json(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [error.to_json() for error in self.errors]
        return body

    def response(self, instance: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.to_json(instance),
            status_code=self.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=dict(self.headers),
        )


def not_found(what: str, identifier: str) -> Problem:
    """The named resource does not exist."""
    return Problem(404, "not-found", f"{what} {identifier!r} does not exist")


def conflict(detail: str) -> Problem:
    """The resource is not in a state that allows the request."""
    return Problem(409, "conflict", detail)


def unprocessable(kind: str, detail: str) -> Problem:
    """The request is well-formed but a business rule refuses it."""
    return Problem(422, kind, detail)
