"""Bearer tokens on the admin resources and /v1/me: who is asking, and may they.

Every admin route is registered through :func:`authorized`, which verifies the token,
checks its session is still live (:class:`~core.auth.sessions.SessionCheck`) and applies
the rules table (:func:`~core.identity.authorization.authorize`) before the handler runs.
The rule a view enforces is recorded on it (:data:`AUTHORIZATION_ATTRIBUTE`) so that a
test can prove no admin route goes without one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from api.runtime import current_runtime
from core.auth.sessions import SessionCheck
from core.auth.tokens import AccessClaims, TokenKeys
from core.identity.authorization import Principal, Verb, authorize
from core.platform.errors import Unauthorized

_KEY = "otp_token_keys"
_SESSIONS_KEY = "otp_session_check"
AUTHORIZATION_ATTRIBUTE = "otp_authorization"

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def token_keys(app: Flask) -> TokenKeys:
    """The app's verification keys, built on first use and kept (loading a PEM per request
    would be wasted work, and an app without a JWT key can still serve its probes)."""
    keys = app.extensions.get(_KEY)
    if keys is None:
        keys = TokenKeys(current_runtime().settings)
        app.extensions[_KEY] = keys
    assert isinstance(keys, TokenKeys)
    return keys


def _session_check(app: Flask) -> SessionCheck:
    check = app.extensions.get(_SESSIONS_KEY)
    if check is None:
        runtime = current_runtime()
        check = SessionCheck(runtime.sessions, runtime.clock)
        app.extensions[_SESSIONS_KEY] = check
    assert isinstance(check, SessionCheck)
    return check


def bearer_claims() -> AccessClaims:
    """The verified claims of ``Authorization: Bearer <JWT>``; 401 ``InvalidToken`` otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required: Authorization: Bearer <access token>.")
    keys = token_keys(current_app._get_current_object())  # type: ignore[attr-defined]
    return keys.verify(token.strip(), now=current_runtime().clock.now())


def current_principal() -> Principal:
    """Whom the request's token speaks for, while its user and client are live; 401 else."""
    principal = g.get("otp_principal")
    if principal is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        principal = _session_check(app).principal(bearer_claims())
        g.otp_principal = principal
    assert isinstance(principal, Principal)
    return principal


def authorized(resource: str, operation: Verb) -> Callable[[ViewT], ViewT]:
    """Wrap an admin view: 401 without a live token, then the rules table for
    ``resource`` and ``operation`` over the request's path parameters."""

    def decorate(view: ViewT) -> ViewT:
        @wraps(view)
        def guarded(**path: str) -> Any:
            authorize(current_principal(), resource, operation, path)
            return view(**path)

        setattr(guarded, AUTHORIZATION_ATTRIBUTE, (resource, operation))
        return guarded  # type: ignore[return-value]

    return decorate
