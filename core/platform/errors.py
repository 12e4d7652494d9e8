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


class TokenRequestError(DomainError):
    """A token request was refused. ``oauth_error`` is RFC 6749's code for the same case.

    Every token failure answers 400 with both the OAuth body and OrderCloud's ``Errors``.
    """

    oauth_error = "invalid_grant"


class InvalidUsernameOrPassword(TokenRequestError):
    """The username or password is incorrect."""

    error_code = "Auth.InvalidUsernameOrPassword"


class LockedOut(TokenRequestError):
    """The account is locked after too many failed sign-in attempts."""

    error_code = "Auth.LockedOut"


class UserNotActive(TokenRequestError):
    """The user or the user's buyer is not active."""

    error_code = "Auth.UserNotActive"


class UnknownClient(TokenRequestError):
    """The client_id is missing or unknown."""

    oauth_error = "invalid_client"
    error_code = "ApiClient.InvalidClientID"


class ClientNotActive(TokenRequestError):
    """The API client is not active."""

    oauth_error = "invalid_client"
    error_code = "Auth.ClientNotActive"


class InvalidClientSecret(TokenRequestError):
    """The client_secret is missing or incorrect."""

    oauth_error = "invalid_client"
    error_code = "Auth.InvalidClientSecret"


class RolesNotGranted(TokenRequestError):
    """The user may not use this client, or holds none of the requested roles."""

    error_code = "Auth.InsufficientRoles"


class InvalidRefreshToken(TokenRequestError):
    """The refresh token is unknown, expired or already used."""

    error_code = "Auth.InvalidRefreshToken"


class UsernameAndPasswordRequired(TokenRequestError):
    """username and password are required."""

    oauth_error = "invalid_request"
    error_code = "Auth.UsernameAndPasswordRequired"


class MalformedTokenRequest(TokenRequestError):
    """The token request is not a valid form."""

    oauth_error = "invalid_request"
    error_code = "InvalidRequest"


class UnsupportedGrantType(TokenRequestError):
    """The grant_type is not supported."""

    oauth_error = "unsupported_grant_type"
    error_code = "InvalidRequest"


class NoDefaultContextUser(TokenRequestError):
    """The client has no usable DefaultContextUserName for client_credentials."""

    oauth_error = "unauthorized_client"
    error_code = "Auth.NoDefaultContextUser"


class UsernameOrEmailRequired(DomainError):
    """Either Username or Email is required."""

    error_code = "OneTimePasswordRequest.UsernameOrEmailRequired"


class OtpNotConfigured(DomainError):
    """One-time passwords are not configured: no enabled OneTimePassword message sender."""

    error_code = "OneTimePasswordRequest.NotConfigured"


class UnsendableEmail(Exception):
    """The SMTP target or the recipient address cannot make a sendable email (permanent)."""


class UsernameTaken(DomainError):
    """Usernames must be unique across the marketplace (case-insensitively)."""

    error_code = "User.UsernameMustBeUnique"
    status = 409


class InUse(DomainError):
    """The object is still referenced; remove the references first."""

    error_code = "InUse"
    status = 409
