from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import Client

import migrations
from api.token import create_token_app
from cli.dev import build_dev_wsgi
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import make_otp
from tests.integration.token.conftest import PASSWORD, fresh_user, make_shop, password_form


def test_healthz_and_readyz_need_only_the_database(token_client: FlaskClient) -> None:
    assert token_client.get("/healthz").json == {"status": "ok"}
    ready = token_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_is_503_when_the_database_does_not_answer(settings: Settings) -> None:
    runtime = Runtime(settings.replace(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    try:
        response = create_token_app(runtime=runtime).test_client().get("/readyz")
    finally:
        runtime.close()
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("database unreachable")


def test_a_token_request_while_the_database_is_down_is_503_not_500(settings: Settings) -> None:
    runtime = Runtime(settings.replace(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    form = {"grant_type": "password", "client_id": "c", "username": "u", "password": "p"}
    try:
        response = create_token_app(runtime=runtime).test_client().post("/oauth/token", data=form)
    finally:
        runtime.close()
    assert response.status_code == 503
    assert response.json["Errors"][0]["ErrorCode"] == "ServiceUnavailable"
    assert response.headers["Retry-After"]


def test_the_jwks_document_lists_the_signing_key(token_client: FlaskClient) -> None:
    response = token_client.get("/.well-known/jwks.json")
    (key,) = response.json["keys"]
    assert {key["kty"], key["alg"], key["use"]} == {"EC", "ES256", "sig"}
    assert "d" not in key  # never the private part


@pytest.fixture
def sqlite_runtime(tmp_path: Path, jwt_private_key: str, settings: Settings) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    migrations.upgrade(url)
    runtime = Runtime(
        settings.replace(database_url=url, broker_url=None, dev_mode=True), clock=FrozenClock()
    )
    yield runtime
    runtime.close()


def test_dev_mode_serves_token_routes_on_sqlite_next_to_the_api(
    sqlite_runtime: Runtime,
) -> None:
    settings = sqlite_runtime.settings
    clock = sqlite_runtime.clock
    assert isinstance(clock, FrozenClock)
    with Session(sqlite_runtime.engine, expire_on_commit=False) as data:
        shop = make_shop(data, password_config={"AllowedFailedAttempts": 2})
        _, code = make_otp(data, shop.user, shop.client, settings, now=clock.now())
        data.commit()
        dev = Client(build_dev_wsgi(sqlite_runtime))

        assert dev.get("/healthz").status_code == 200
        jwks = dev.get("/.well-known/jwks.json").json
        assert jwks is not None
        first = dev.post("/oauth/token", data=password_form(shop, code))
        assert first.status_code == 200, first.get_data(as_text=True)
        token = first.json["access_token"]  # type: ignore[index]
        key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
        assert jwt.decode(token, key, algorithms=["ES256"], audience="otp-service")["usr"] == (
            shop.user.username
        )

        again = dev.post("/oauth/token", data=password_form(shop, code))
        assert again.json["Errors"][0]["ErrorCode"] == "Auth.InvalidUsernameOrPassword"  # type: ignore[index]
        assert fresh_user(data, shop.user).failed_login_attempts == 1
        dev.post("/oauth/token", data=password_form(shop, "wrong"))
        locked = dev.post("/oauth/token", data=password_form(shop, PASSWORD))
        assert locked.json["Errors"][0]["ErrorCode"] == "Auth.LockedOut"  # type: ignore[index]
        assert fresh_user(data, shop.user).locked_until is not None
