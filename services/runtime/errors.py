"""One exception family for every service, mapped to a gRPC status in one place.

Domain code raises these without importing grpc; the server interceptor in
:mod:`services.runtime.interceptors` turns them into statuses with their message.
"""

from __future__ import annotations


class SwitchboardError(Exception):
    """Base of every error a service reports to its caller. ``status`` names a gRPC status code."""

    status = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(SwitchboardError):
    """The request is malformed: a missing field, a value out of range, bad encoding."""

    status = "INVALID_ARGUMENT"


class NotFound(SwitchboardError):
    """The named thing does not exist."""

    status = "NOT_FOUND"


class AlreadyExists(SwitchboardError):
    """The thing to create exists already."""

    status = "ALREADY_EXISTS"


class FailedPrecondition(SwitchboardError):
    """The system is not in a state where the request can be served."""

    status = "FAILED_PRECONDITION"


class Aborted(SwitchboardError):
    """A concurrent write won; re-read and retry."""

    status = "ABORTED"


class ResourceExhausted(SwitchboardError):
    """A limit was reached: rate, size or concurrency."""

    status = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(SwitchboardError):
    """The work could not finish before the caller's deadline."""

    status = "DEADLINE_EXCEEDED"


class Unavailable(SwitchboardError):
    """A dependency cannot be reached; the call may succeed later."""

    status = "UNAVAILABLE"


class ConfigError(SwitchboardError):
    """Configuration is invalid; raised at start, before anything listens."""

    status = "FAILED_PRECONDITION"
