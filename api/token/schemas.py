"""The token handler's request form and answers, as pydantic models.

``TokenRequest`` validates every form posted to ``/oauth/token``; the same models feed
the OpenAPI document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.openapi import Operation

GRANT_TYPES = ("password", "client_credentials", "refresh_token")
SHORT_FIELD = 255
LONG_FIELD = 4096


class TokenRequest(BaseModel):
    """``POST /oauth/token`` as ``application/x-www-form-urlencoded``; unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    grant_type: str = Field(max_length=SHORT_FIELD, json_schema_extra={"enum": list(GRANT_TYPES)})
    client_id: str | None = Field(default=None, max_length=SHORT_FIELD)
    client_secret: str | None = Field(default=None, max_length=LONG_FIELD)
    username: str | None = Field(default=None, max_length=SHORT_FIELD, description="password grant")
    password: str | None = Field(
        default=None,
        max_length=LONG_FIELD,
        description="password grant: the user's password or a one-time password",
    )
    scope: str | None = Field(
        default=None,
        max_length=LONG_FIELD,
        description="space-separated roles; omitted = every role the user holds",
    )
    refresh_token: str | None = Field(
        default=None, max_length=LONG_FIELD, description="refresh_token grant"
    )

    def roles(self) -> list[str] | None:
        """The requested roles, each once, in order; ``None`` when no scope was sent."""
        if self.scope is None:
            return None
        return list(dict.fromkeys(self.scope.split()))


class TokenResponse(BaseModel):
    access_token: str = Field(description="a signed JWT; verify it with /.well-known/jwks.json")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str | None = Field(
        default=None, description="present when the client's RefreshTokenDuration > 0"
    )


class TokenErrorItem(BaseModel):
    ErrorCode: str
    Message: str


class TokenErrorResponse(BaseModel):
    """Every refusal, status 400: RFC 6749's fields and OrderCloud's ``Errors``."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
    ]
    error_description: str
    Errors: list[TokenErrorItem]


class JsonWebKeySet(BaseModel):
    """``GET /.well-known/jwks.json``: the public keys that verify access tokens."""

    keys: list[dict[str, Any]]


def token_operations() -> tuple[Operation, ...]:
    """The token handler's routes, for the api app's OpenAPI document (``served_by="token"``)."""
    return (
        Operation(
            path="/oauth/token",
            method="post",
            summary="Get an access token (password — the user's password or an OTP —, "
            "client_credentials, refresh_token)",
            tag="Authentication",
            request_model=TokenRequest,
            request_content_type="application/x-www-form-urlencoded",
            responses={200: TokenResponse, 400: TokenErrorResponse},
            errors=(503,),
            secured=False,
            served_by="token",
        ),
        Operation(
            path="/.well-known/jwks.json",
            method="get",
            summary="The public keys that verify access tokens",
            tag="Authentication",
            responses={200: JsonWebKeySet},
            errors=(),
            secured=False,
            served_by="token",
        ),
    )
