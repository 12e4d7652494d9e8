from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from api import create_app
from api.health import READINESS_CACHE_SECONDS
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.tcp_proxy import proxy_to


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


def test_readyz_reuses_its_probe_briefly_instead_of_a_broker_connection_per_call(
    settings: Settings,
) -> None:
    clock = FrozenClock()
    with proxy_to(settings.broker_url or "") as proxy:
        proxied = settings.replace(broker_url=proxy.url_for(settings.broker_url or ""))
        runtime = Runtime(proxied, clock=clock)
        client = create_app(runtime=runtime).test_client()
        try:
            answers = [client.get("/readyz").status_code for _ in range(5)]
            connections_after_burst = proxy.accepted
            clock.advance(READINESS_CACHE_SECONDS + 0.5)
            later = client.get("/readyz").status_code
        finally:
            runtime.close()
    assert answers == [200] * 5
    assert connections_after_burst == 1
    assert later == 200
    assert proxy.accepted == 2
