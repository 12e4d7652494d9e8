"""The OTP endpoint's guards on real services: broker outages (503 and recovery without a
restart), the per-IP rate limit (429) and the answer that never reveals matching users."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pika
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from api import create_app
from core.messaging.events import OtpRequested
from core.messaging.publisher import DEFAULT_FAILURE_COOLDOWN
from core.messaging.routes import REQUESTS_QUEUE
from core.platform.runtime import Runtime
from core.platform.settings import RateLimit, Settings
from tests.doubles import FrozenClock
from tests.http_server import served
from tests.otp_marketplace import OTP_PATH, Marketplace, committed_marketplace, committed_users
from tests.otp_queue import queued_count, take_all
from tests.tcp_proxy import proxy_to

PAST_COOLDOWN = (DEFAULT_FAILURE_COOLDOWN + timedelta(seconds=1)).total_seconds()
SERVICE_UNAVAILABLE_BODY = {
    "Errors": [
        {
            "ErrorCode": "ServiceUnavailable",
            "Message": "The service is temporarily unavailable; retry shortly.",
            "Data": None,
        }
    ]
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def marketplace(committed_db: Engine) -> Marketplace:
    return committed_marketplace(committed_db)


@pytest.fixture
def runtime_for(clock: FrozenClock) -> Iterator[list[Runtime]]:
    """Runtimes built by a test; all closed afterwards."""
    runtimes: list[Runtime] = []
    yield runtimes
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def client_on_session_vhost(
    settings: Settings, clock: FrozenClock, runtime_for: list[Runtime]
) -> FlaskClient:
    return api_with(runtime_for, settings, clock)


def delete_requests_queue(broker_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        connection.channel().queue_delete(REQUESTS_QUEUE)
    finally:
        connection.close()


def api_with(runtimes: list[Runtime], settings: Settings, clock: FrozenClock) -> FlaskClient:
    runtime = Runtime(settings, clock=clock)
    runtimes.append(runtime)
    return create_app(runtime=runtime).test_client()


def test_a_dead_broker_answers_503_with_retry_after_and_nothing_else(
    settings: Settings,
    clock: FrozenClock,
    runtime_for: list[Runtime],
    marketplace: Marketplace,
    clean_broker: str,
) -> None:
    dead = settings.replace(broker_url="amqp://guest:guest@127.0.0.1:1/%2F")
    client = api_with(runtime_for, dead, clock)

    response = client.post(OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@x.io"})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json == SERVICE_UNAVAILABLE_BODY
    assert queued_count(clean_broker) == 0


def test_a_broker_that_accepts_connections_but_never_answers_is_a_503_not_a_500(
    settings: Settings,
    clock: FrozenClock,
    runtime_for: list[Runtime],
    marketplace: Marketplace,
) -> None:
    with socket.socket() as silent:  # TCP is accepted by the kernel; AMQP never starts
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        stalled = f"amqp://guest:guest@127.0.0.1:{port}/%2F?stack_timeout=1"
        client = api_with(runtime_for, settings.replace(broker_url=stalled), clock)

        response = client.post(
            OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@x.io"}
        )

    assert response.status_code == 503
    assert response.json == SERVICE_UNAVAILABLE_BODY


def test_the_api_recovers_by_itself_when_the_broker_comes_back(
    settings: Settings,
    clock: FrozenClock,
    runtime_for: list[Runtime],
    marketplace: Marketplace,
    clean_broker: str,
) -> None:
    body = {"ClientID": marketplace.client_id, "Username": "ann"}
    with proxy_to(clean_broker) as proxy:
        client = api_with(
            runtime_for, settings.replace(broker_url=proxy.url_for(clean_broker)), clock
        )
        assert client.post(OTP_PATH, json=body).status_code == 204

        proxy.close()  # the outage: open connections cut, new ones refused
        during = client.post(OTP_PATH, json=body)
        proxy.open()
        # Right after a failure the api fails fast instead of retrying on every request.
        cooling_down = client.post(OTP_PATH, json=body)
        clock.advance(PAST_COOLDOWN)
        after = client.post(OTP_PATH, json=body)
        again = client.post(OTP_PATH, json=body)

    assert (during.status_code, during.headers["Retry-After"]) == (503, "5")
    assert cooling_down.status_code == 503
    assert (after.status_code, again.status_code) == (204, 204)
    assert len(take_all(clean_broker)) == 3


def test_a_connection_dropped_by_the_broker_is_reopened_within_the_same_request(
    settings: Settings,
    clock: FrozenClock,
    runtime_for: list[Runtime],
    marketplace: Marketplace,
    clean_broker: str,
) -> None:
    body = {"ClientID": marketplace.client_id, "Username": "ann"}
    with proxy_to(clean_broker) as proxy:
        client = api_with(
            runtime_for, settings.replace(broker_url=proxy.url_for(clean_broker)), clock
        )
        assert client.post(OTP_PATH, json=body).status_code == 204
        proxy.cut_connections()  # an idle api connection that RabbitMQ closed meanwhile

        response = client.post(OTP_PATH, json=body)

    assert response.status_code == 204
    assert len(take_all(clean_broker)) == 2


def test_a_deleted_queue_is_declared_again_and_the_message_is_not_lost(
    client_on_session_vhost: FlaskClient, marketplace: Marketplace, clean_broker: str
) -> None:
    body = {"ClientID": marketplace.client_id, "Email": "a@x.io"}
    assert client_on_session_vhost.post(OTP_PATH, json=body).status_code == 204
    delete_requests_queue(clean_broker)

    # The publish is unroutable (mandatory + confirms); dramatiq redeclares and retries.
    response = client_on_session_vhost.post(OTP_PATH, json=body)

    assert response.status_code == 204
    assert len(take_all(clean_broker)) == 1


def test_requests_past_the_ip_limit_get_429_with_retry_after_until_the_window_ends(
    settings: Settings, clock: FrozenClock, runtime_for: list[Runtime], marketplace: Marketplace
) -> None:
    limited = settings.replace(ip_rate_limit=RateLimit(count=3, period=60))
    client = api_with(runtime_for, limited, clock)
    body = {"ClientID": marketplace.client_id, "Email": "a@x.io"}

    allowed = [client.post(OTP_PATH, json=body).status_code for _ in range(2)]
    # Refused requests count too: a flood of bad bodies is limited like good ones.
    bad = client.post(OTP_PATH, data=b"junk")
    clock.advance(20)
    refused = client.post(OTP_PATH, json=body)
    clock.advance(40)
    next_window = client.post(OTP_PATH, json=body)

    assert allowed == [204, 204]
    assert bad.status_code == 400
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "40"
    assert refused.json["Errors"][0]["ErrorCode"] == "TooManyRequests"
    assert next_window.status_code == 204


def test_x_forwarded_for_is_ignored_without_trusted_proxies(
    settings: Settings, clock: FrozenClock, runtime_for: list[Runtime], marketplace: Marketplace
) -> None:
    limited = settings.replace(ip_rate_limit=RateLimit(count=2, period=60))
    client = api_with(runtime_for, limited, clock)
    body = {"ClientID": marketplace.client_id, "Email": "a@x.io"}

    statuses = [
        client.post(OTP_PATH, json=body, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
        for n in range(3)
    ]

    assert statuses == [204, 204, 429]


def test_behind_trusted_proxies_the_client_ip_is_that_many_hops_from_the_right(
    settings: Settings,
    clock: FrozenClock,
    runtime_for: list[Runtime],
    marketplace: Marketplace,
    clean_broker: str,
) -> None:
    limited = settings.replace(ip_rate_limit=RateLimit(count=1, period=60), trusted_proxies=2)
    client = api_with(runtime_for, limited, clock)
    body = {"ClientID": marketplace.client_id, "Email": "a@x.io"}

    def post_via(chain: str) -> int:
        return client.post(OTP_PATH, json=body, headers={"X-Forwarded-For": chain}).status_code

    first = post_via("6.6.6.6, 203.0.113.7, 10.0.0.1")
    # The spoofable leftmost entry differs, the real client (2 hops from the right) does not.
    same_client = post_via("7.7.7.7, 203.0.113.7, 10.0.0.2")
    other_client = post_via("203.0.113.8, 10.0.0.1")

    assert (first, same_client, other_client) == (204, 429, 204)
    client_ips = [
        OtpRequested.from_message(q.message.args[0]).client_ip for q in take_all(clean_broker)
    ]
    assert client_ips == ["203.0.113.7", "203.0.113.8"]


def test_the_answer_is_identical_for_no_one_and_many_matching_users(
    runtime: Runtime, marketplace: Marketplace, committed_db: Engine, clean_broker: str
) -> None:
    committed_users(committed_db, usernames=["solo"], email="solo@x.io")
    committed_users(committed_db, usernames=["twin1", "twin2"], email="twins@x.io")
    bodies = [
        {"Username": "nobody-at-all"},
        {"Email": "nobody@x.io"},
        {"Username": "solo"},
        {"Email": "solo@x.io"},
        {"Email": "twins@x.io"},
        {"Username": "twin1", "Email": "solo@x.io"},
    ]

    with served(create_app(runtime=runtime)) as base_url, httpx.Client() as http:
        responses = [
            http.post(f"{base_url}{OTP_PATH}", json={"ClientID": marketplace.client_id, **b})
            for b in bodies
        ]

    def raw(response: httpx.Response) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        headers = [(k.lower(), v) for k, v in response.headers.items() if k.lower() != "date"]
        return response.status_code, tuple(sorted(headers)), response.content

    answers = {raw(response) for response in responses}
    assert len(answers) == 1
    [(status, _headers, content)] = answers
    assert (status, content) == (204, b"")
    assert len(take_all(clean_broker)) == len(bodies)
