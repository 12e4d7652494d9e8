from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from api import create_app
from core.platform.runtime import Runtime
from core.platform.settings import Settings


@pytest.fixture
def broken_broker_client(settings: Settings) -> Iterator[FlaskClient]:
    runtime = Runtime(settings.replace(broker_url="amqp://guest:guest@127.0.0.1:1/%2F"))
    yield create_app(runtime=runtime).test_client()
    runtime.close()


def test_readyz_is_ok_when_database_and_broker_answer(api_client: FlaskClient) -> None:
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_is_503_naming_what_is_down(broken_broker_client: FlaskClient) -> None:
    response = broken_broker_client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["broker"].startswith("broker unreachable")


def test_unknown_routes_and_methods_answer_with_the_error_body(api_client: FlaskClient) -> None:
    client = api_client
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json["Errors"][0]["ErrorCode"] == "NotFound"
    # OrderCloud's SDK builds a NotFound error's message from Data.ObjectType and ObjectID.
    assert missing.json["Errors"][0]["Data"] == {
        "ObjectType": "Route",
        "ObjectID": "/v1/nothing-here",
    }
    wrong_method = client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json["Errors"][0]["ErrorCode"] == "MethodNotAllowed"
