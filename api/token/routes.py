"""``POST /oauth/token``, the JWKS document and the token handler's probes.

Every token answer is counted in ``otp_token_grants_total`` (grant type, outcome, and the
credential that matched). When a one-time password signs a user in, the rest of that
request is logged under the OTP request's id (the flow's correlation id, read from the
consumed OTP row), and one line links it to the token request's own id.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from api.runtime import current_runtime
from api.token.form import read_token_request
from api.token.schemas import TokenRequest, TokenResponse
from core.auth.grants import IssuedToken, TokenGrants
from core.auth.tokens import TokenKeys
from core.platform.correlation import bind_correlation_id, current_correlation_id
from core.platform.db import check_database
from core.platform.errors import (
    LockedOut,
    MalformedTokenRequest,
    ServiceUnavailable,
    TokenRequestError,
    UsernameAndPasswordRequired,
)
from core.platform.metrics import record_token_grant

token_routes = Blueprint("token", __name__)
log = logging.getLogger(__name__)

_GRANTS_KEY = "otp_token_grants"
_KEYS_KEY = "otp_token_keys"
JWKS_MAX_AGE = 300


def attach_token_services(app: Flask, grants: TokenGrants, keys: TokenKeys) -> None:
    app.extensions[_GRANTS_KEY] = grants
    app.extensions[_KEYS_KEY] = keys


def _grants() -> TokenGrants:
    grants = current_app.extensions[_GRANTS_KEY]
    assert isinstance(grants, TokenGrants)
    return grants


@token_routes.post("/oauth/token")
def issue_token() -> Response:
    grant_type: str | None = None
    try:
        form = read_token_request(request)
        grant_type = form.grant_type
        issued = _decide(_grants(), form, request.remote_addr)
    except TokenRequestError as refusal:
        record_token_grant(grant_type or "none", refusal_outcome(refusal))
        raise
    if issued.otp_request_id is not None:
        record_token_grant(form.grant_type, "granted", "otp")
        _continue_under_otp_request(issued.otp_request_id)
    else:
        record_token_grant(form.grant_type, "granted", _credential(form.grant_type))
    body = TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )
    response = jsonify(body.model_dump(exclude_none=True))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def refusal_outcome(refusal: TokenRequestError) -> str:
    """The ``outcome`` label of a refused token request."""
    if isinstance(refusal, LockedOut):
        return "locked_out"
    if refusal.oauth_error in {"invalid_request", "unsupported_grant_type"}:
        return "invalid_request"
    if refusal.oauth_error == "invalid_client":
        return "invalid_client"
    return "invalid_grant"


def _credential(grant_type: str) -> str:
    return "password" if grant_type == "password" else "none"


def _continue_under_otp_request(otp_request_id: str) -> None:
    """Log the rest of this request (the access line too) under the OTP flow's id.

    api.observability's teardown restores the previous id, so nothing leaks to the next
    request. The line below carries both ids, so the token request stays traceable.
    """
    token_request_id = current_correlation_id()
    bind_correlation_id(otp_request_id)
    log.info(
        "signed in with a one-time password",
        extra={"token_request_id": token_request_id, "otp_request_id": otp_request_id},
    )


def _decide(grants: TokenGrants, form: TokenRequest, ip: str | None) -> IssuedToken:
    if form.grant_type == "password":
        if form.username is None or form.password is None:
            raise UsernameAndPasswordRequired()
        return grants.password(
            client_id=form.client_id,
            client_secret=form.client_secret,
            username=form.username,
            password=form.password,
            scope=form.roles(),
            ip=ip,
        )
    if form.grant_type == "client_credentials":
        return grants.client_credentials(
            client_id=form.client_id, client_secret=form.client_secret, scope=form.roles(), ip=ip
        )
    if form.refresh_token is None:
        raise MalformedTokenRequest("refresh_token is required.")
    return grants.refresh(
        client_id=form.client_id,
        client_secret=form.client_secret,
        refresh_token=form.refresh_token,
        scope=form.roles(),
        ip=ip,
    )


@token_routes.get("/.well-known/jwks.json")
def jwks() -> Response:
    keys = current_app.extensions[_KEYS_KEY]
    assert isinstance(keys, TokenKeys)
    response = jsonify(keys.jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


@token_routes.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@token_routes.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The token handler needs only the database (no broker)."""
    try:
        check_database(current_runtime().engine)
    except ServiceUnavailable as error:
        return jsonify({"status": "unavailable", "checks": {"database": str(error)}}), 503
    return jsonify({"status": "ok", "checks": {"database": "ok"}}), 200
