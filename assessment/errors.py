"""Domain errors; the web layer maps each to one HTTP status in one place."""
from __future__ import annotations

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "ServiceBusy",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
]


class DomainError(Exception):
    """Base class: `code` is a stable machine-readable name, the message is for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError, ValueError):
    code = "invalid_input"
    http_status = 400


class Unauthorized(DomainError):
    code = "unauthorized"
    http_status = 401


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


class NotFound(DomainError, LookupError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class Unprocessable(DomainError, ValueError):
    code = "unprocessable"
    http_status = 422


class TooManyRequests(DomainError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceBusy(DomainError):
    """The server is admitting a burst in turn (assessment.admission): come back after `retry_after` seconds."""

    code = "busy"
    http_status = 503

    def __init__(self, message: str, *, retry_after: int, position: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.position = position
