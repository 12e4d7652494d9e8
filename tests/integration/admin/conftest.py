"""An api app on the test database, and a client that sends bearer tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from api import create_app
from core.auth.tokens import TokenKeys
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.factories import make_access_token


class AdminClient:
    """The Flask test client, sending ``Authorization: Bearer`` with the roles asked for."""

    def __init__(self, client: FlaskClient, keys: TokenKeys) -> None:
        self.client = client
        self.keys = keys

    def token(self, roles: list[str], **claims: Any) -> str:
        return make_access_token(self.keys, roles=roles, **claims)

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
    yield AdminClient(app.test_client(), TokenKeys(settings))
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
