"""Bearer-token authentication and role checks for the admin resources and /v1/me."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, current_app, request

from api.runtime import current_runtime
from core.auth.tokens import AccessClaims, TokenKeys
from core.identity.roles import FULL_ACCESS
from core.platform.errors import InsufficientRoles, Unauthorized

_KEY = "otp_token_keys"


def token_keys(app: Flask) -> TokenKeys:
    """The app's verification keys, built on first use and kept (loading a PEM per request
    would be wasted work, and an app without a JWT key can still serve its probes)."""
    keys = app.extensions.get(_KEY)
    if keys is None:
        keys = TokenKeys(current_runtime().settings)
        app.extensions[_KEY] = keys
    assert isinstance(keys, TokenKeys)
    return keys


def bearer_claims() -> AccessClaims:
    """The verified claims of ``Authorization: Bearer <JWT>``; 401 ``InvalidToken`` otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required: Authorization: Bearer <access token>.")
    keys = token_keys(current_app._get_current_object())  # type: ignore[attr-defined]
    return keys.verify(token.strip(), now=current_runtime().clock.now())


def require_roles(sufficient: Iterable[str]) -> AccessClaims:
    """The claims, when the token holds FullAccess or one of ``sufficient``; 403 otherwise."""
    claims = bearer_claims()
    allowed = {FULL_ACCESS, *sufficient}
    if allowed.isdisjoint(claims.roles):
        raise InsufficientRoles(
            "The token does not hold a role this action needs.",
            data={"SufficientRoles": sorted(allowed), "AssignedRoles": list(claims.roles)},
        )
    return claims
