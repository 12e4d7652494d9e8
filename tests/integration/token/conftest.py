"""Fixtures for the token handler: its app on the test database, a frozen clock, a real
server on loopback, and committed test data the app's own connections can see."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from api.token import create_token_app
from core.models import ApiClient, AuthEvent, Buyer, User
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import make_buyer, make_client, make_profile, make_user

PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def token_settings(settings: Settings) -> Settings:
    """Override in a test module to change a setting (e.g. OTP_MAX_FAILED_ATTEMPTS)."""
    return settings


@pytest.fixture
def token_runtime(
    token_settings: Settings, clock: FrozenClock, committed_db: Engine
) -> Iterator[Runtime]:
    runtime = Runtime(token_settings, clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def token_app(token_runtime: Runtime) -> Flask:
    return create_token_app(runtime=token_runtime)


@pytest.fixture
def token_client(token_app: Flask) -> FlaskClient:
    return token_app.test_client()


@pytest.fixture
def token_server(token_app: Flask) -> Iterator[str]:
    """The token app behind a real threaded HTTP server on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, token_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def data(committed_db: Engine) -> Iterator[Session]:
    """A session for building test data; ``commit()`` it so the app can see the rows."""
    with Session(committed_db, expire_on_commit=False) as session:
        yield session


@dataclass
class Shop:
    """A buyer, a client the buyer is assigned to, and a buyer user holding Shopper."""

    buyer: Buyer
    client: ApiClient
    user: User


def make_shop(
    session: Session,
    *,
    password_config: dict[str, Any] | None = None,
    roles: list[str] | None = None,
    user_fields: dict[str, Any] | None = None,
    **client_fields: Any,
) -> Shop:
    buyer = make_buyer(session)
    client = make_client(session, buyers=[buyer], **client_fields)
    user = make_user(session, buyer=buyer, password=PASSWORD, **(user_fields or {}))
    make_profile(
        session,
        roles=roles or ["Shopper", "MeAdmin"],
        buyer=buyer,
        password_config=password_config,
    )
    session.commit()
    return Shop(buyer=buyer, client=client, user=user)


def password_form(shop: Shop, password: str = PASSWORD, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": shop.client.id,
        "username": shop.user.username,
        "password": password,
        **extra,
    }


def post_token(client: FlaskClient, form: dict[str, str]) -> TestResponse:
    return client.post("/oauth/token", data=form)


def error_code(response: TestResponse) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.json
    assert body is not None
    return str(body["Errors"][0]["ErrorCode"])


def fresh_user(session: Session, user: User) -> User:
    """The user row as committed now (not as this session last saw it)."""
    session.expire_all()
    found = session.scalar(select(User).where(User.id == user.id))
    assert found is not None
    return found


def auth_outcomes(session: Session, user: User) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuthEvent.outcome).where(AuthEvent.user_id == user.id).order_by(AuthEvent.id)
        )
    )
