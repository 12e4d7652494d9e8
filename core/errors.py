"""Domain exceptions. ``api/errors.py`` maps each to the contract's error body in one place."""

from __future__ import annotations

from typing import Any


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class ServiceUnavailable(Exception):
    """A backing service (database, broker) cannot be reached."""


class DomainError(Exception):
    """An OrderCloud-style error: an ``ErrorCode``, a message and optional ``Data``."""

    error_code = "InvalidRequest"
    status = 400

    def __init__(
        self, message: str = "", *, data: Any = None, error_code: str | None = None
    ) -> None:
        super().__init__(message or self.__class__.__doc__ or self.error_code)
        self.message = message or (self.__class__.__doc__ or self.error_code).strip()
        self.data = data
        if error_code is not None:
            self.error_code = error_code


class InvalidRequest(DomainError):
    """The request is not valid."""

    error_code = "InvalidRequest"


class NotFound(DomainError):
    """Not found."""

    error_code = "NotFound"
    status = 404


class IdExists(DomainError):
    """An object with this ID already exists."""

    error_code = "IdExists"
    status = 409


class Unauthorized(DomainError):
    """A valid bearer token is required."""

    error_code = "InvalidToken"
    status = 401


class InsufficientRoles(DomainError):
    """The token does not hold a role this resource needs."""

    error_code = "InsufficientRoles"
    status = 403


class InvalidClient(DomainError):
    """The ClientID is missing, unknown or inactive."""

    error_code = "ApiClient.InvalidClientID"


class TooManyRequests(DomainError):
    """Too many requests; try again later."""

    error_code = "TooManyRequests"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class UsernameTaken(DomainError):
    """Usernames must be unique across the marketplace (case-insensitively)."""

    error_code = "User.UsernameMustBeUnique"
    status = 409


class InUse(DomainError):
    """The object is still referenced; remove the references first."""

    error_code = "InUse"
    status = 409
