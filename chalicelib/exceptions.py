"""The one error hierarchy. `api.http` maps it to HTTP responses, once."""
from __future__ import annotations

from typing import Any

from chalicelib.core.validation import FieldProblem as FieldProblem


class OptioError(Exception):
    status = 500

    def __init__(self, message: str, details: list[FieldProblem] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.extra = extra


class ValidationFailed(OptioError):
    status = 400


class Unauthorized(OptioError):
    status = 401


class Forbidden(OptioError):
    status = 403


class NotFound(OptioError):
    status = 404


class NotAllowedForType(OptioError):
    status = 405


class Conflict(OptioError):
    """State conflict: invalid transition, lost race, duplicate."""

    status = 409


class PayloadTooLarge(OptioError):
    status = 413


class RateLimited(OptioError):
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
