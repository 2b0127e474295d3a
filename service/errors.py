"""Domain errors. Each knows its HTTP status; one handler in the app renders them."""

from __future__ import annotations


class LinliError(Exception):
    """Base of every error Linli reports to a caller on purpose."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(LinliError):
    """The request could not be understood as a whole."""

    status_code = 400


class Unauthorized(LinliError):
    """No credentials, or credentials nobody issued or that were revoked."""

    status_code = 401


class Forbidden(LinliError):
    """The caller is known but may not do this."""

    status_code = 403


class NotFound(LinliError):
    """The thing does not exist, or the caller may not know that it does."""

    status_code = 404


class Conflict(LinliError):
    """The change clashes with what is stored (a name or serial already taken)."""

    status_code = 409


class PayloadTooLarge(LinliError):
    """The body or the batch is larger than the service accepts."""

    status_code = 413


class UnsupportedMediaType(LinliError):
    """The body is not JSON."""

    status_code = 415


class Invalid(LinliError):
    """The request was parsed but its content is not acceptable."""

    status_code = 422


class TooManyRequests(LinliError):
    """The caller tried too often: refused tokens from its address, or a runaway client.
    `retry_after` (seconds) goes out as the Retry-After header."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(LinliError):
    """PostgreSQL cannot be reached or is not ready."""

    status_code = 503
