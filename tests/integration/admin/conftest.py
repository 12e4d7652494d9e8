"""An api app on the test database, and a client that sends bearer tokens."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from api import create_app
from core.auth.tokens import TokenKeys
from core.models import User
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.factories import make_access_token, make_client, make_user


class AdminClient:
    """The Flask test client, sending ``Authorization: Bearer`` with the roles asked for.

    Tokens are signed as the token handler signs them, for a real caller: an admin user
    and an API client made on first use (the admin API refuses tokens whose user or
    client does not exist). ``username=`` signs for an existing user instead.
    """

    def __init__(self, client: FlaskClient, keys: TokenKeys, sessions: sessionmaker[Session]):
        self.client = client
        self.keys = keys
        self.sessions = sessions
        self._caller: tuple[str, str] | None = None  # (user ID, username)
        self._client_id: str | None = None

    def caller(self) -> tuple[str, str]:
        if self._caller is None:
            with self.sessions() as session, session.begin():
                user = make_user(session, username=f"caller-{secrets.token_hex(4)}")
                self._caller = (user.id, user.username)
        return self._caller

    def client_id(self) -> str:
        if self._client_id is None:
            with self.sessions() as session, session.begin():
                self._client_id = make_client(session, app_name="Admin tests").id
        return self._client_id

    def token(
        self,
        roles: list[str],
        *,
        username: str | None = None,
        client_id: str | None = None,
        **claims: Any,
    ) -> str:
        if username is None:
            user_id, username = self.caller()
            version = 0
        else:
            with self.sessions() as session:
                user = session.scalar(
                    select(User).where(func.lower(User.username) == username.lower())
                )
                user_id = user.id if user is not None else f"no-such-user-{username}"
                version = user.token_version if user is not None else 0
        return make_access_token(
            self.keys,
            roles=roles,
            username=username,
            user_id=user_id,
            token_version=version,
            client_id=client_id or self.client_id(),
            **claims,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        roles: list[str] | None = None,
        token: str | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if token is None and roles is not None:
            token = self.token(roles)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, roles=kwargs.pop("roles", ["FullAccess"]), **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, roles=kwargs.pop("roles", ["FullAccess"]), **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, roles=kwargs.pop("roles", ["FullAccess"]), **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, roles=kwargs.pop("roles", ["FullAccess"]), **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, roles=kwargs.pop("roles", ["FullAccess"]), **kwargs)


def make_admin_client(settings: Settings) -> Iterator[AdminClient]:
    runtime = Runtime(settings)
    app = create_app(runtime=runtime)
    yield AdminClient(app.test_client(), TokenKeys(settings), runtime.sessions)
    runtime.close()


@pytest.fixture
def admin(settings: Settings, committed_db: Engine) -> Iterator[AdminClient]:
    """The api app; what it writes is committed and truncated after the test."""
    yield from make_admin_client(settings)


@pytest.fixture
def dev_admin(settings: Settings, committed_db: Engine) -> Iterator[AdminClient]:
    """The same, in dev mode (the Console delivery target is accepted)."""
    yield from make_admin_client(settings.replace(dev_mode=True))


def error_of(response: TestResponse) -> dict[str, Any]:
    body = response.get_json()
    assert isinstance(body, dict), response.data
    error: dict[str, Any] = body["Errors"][0]
    return error
