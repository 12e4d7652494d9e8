"""``POST /oauth/token``, the JWKS document and the token handler's probes."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from api.runtime import current_runtime
from api.token.form import read_token_request
from api.token.schemas import TokenRequest, TokenResponse
from core.db import check_database
from core.errors import (
    MalformedTokenRequest,
    ServiceUnavailable,
    UsernameAndPasswordRequired,
)
from core.token_grants import IssuedToken, TokenGrants
from core.tokens import TokenKeys

token_routes = Blueprint("token", __name__)

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
    form = read_token_request(request)
    issued = _decide(_grants(), form, request.remote_addr)
    body = TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )
    response = jsonify(body.model_dump(exclude_none=True))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


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
