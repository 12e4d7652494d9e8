"""The whole product as its three deployables: `otp api`, `otp worker`, `otp token`.

Real gunicorn and dramatiq processes on this session's PostgreSQL database and RabbitMQ
vhost, a webhook receiver on loopback, and the HTTP calls an OrderCloud SDK would make.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jwt
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.models import OneTimePassword, User
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_buyer, make_client, make_profile, make_user, make_webhook_sender
from tests.processes import Process, free_port, otp_command, started, wait_until_healthy
from tests.webhook_receiver import ReceivedWebhook, WebhookReceiver

pytestmark = pytest.mark.e2e

SHARED_EMAIL = "family@example.com"


@dataclass
class Deployment:
    api: str
    token: str
    processes: list[Process]

    def request_otp(self, **body: str) -> httpx.Response:
        return httpx.post(f"{self.api}/v1/password/onetimepassword", json=body, timeout=30)

    def login(self, client_id: str, username: str, password: str) -> httpx.Response:
        form = {
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": password,
        }
        return httpx.post(f"{self.token}/oauth/token", data=form, timeout=30)

    def output(self) -> str:
        return "\n".join(process.output() for process in self.processes)


@dataclass(frozen=True)
class Marketplace:
    client_id: str
    usernames: list[str]  # three buyer users sharing SHARED_EMAIL
    loner: str  # a user with an email of their own


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def marketplace(committed_db: Engine, receiver: WebhookReceiver) -> Marketplace:
    with Session(committed_db) as session:
        buyer = make_buyer(session)
        client = make_client(session, buyers=[buyer])
        make_profile(session, roles=["Shopper", "MeAdmin"], buyer=buyer)
        # Configured as on OrderCloud: AllowAllBuyers true and no assignment.
        make_webhook_sender(
            session, url=f"{receiver.url}/hooks/{{messagetype}}", reach="all_buyers"
        )
        family = [make_user(session, buyer=buyer, email=SHARED_EMAIL) for _ in range(3)]
        loner = make_user(session, buyer=buyer)
        marketplace = Marketplace(client.id, [user.username for user in family], loner.username)
        session.commit()
    return marketplace


@pytest.fixture
def deployment(
    committed_db: Engine, database_url: str, clean_broker: str, jwt_private_key: str
) -> Iterator[Deployment]:
    env = {
        **os.environ,
        "OTP_DATABASE_URL": database_url,
        "OTP_BROKER_URL": clean_broker,
        "OTP_SECRET_KEY": TEST_SECRET_KEY,
        "OTP_JWT_PRIVATE_KEY": jwt_private_key,
        "OTP_IP_RATE_LIMIT": "0",
        "OTP_LOG_FORMAT": "json",
        "OTP_WORKER_METRICS_PORT": "0",
        "OTP_BLOCKED_TARGET_NETWORKS": "none",  # the receivers listen on loopback
    }
    api_port, token_port = free_port(), free_port()
    api_base, token_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{token_port}"
    with (
        started(
            otp_command("api", "--bind", f"127.0.0.1:{api_port}", "--workers", "1"), env=env
        ) as api,
        started(
            otp_command("token", "--bind", f"127.0.0.1:{token_port}", "--workers", "1"), env=env
        ) as token,
        # One thread: events are fanned out in the order they were accepted.
        started(otp_command("worker", "--processes", "1", "--threads", "1"), env=env) as worker,
    ):
        wait_until_healthy(api_base, api)
        wait_until_healthy(token_base, token)
        yield Deployment(api_base, token_base, [api, token, worker])


def _by_username(webhooks: list[ReceivedWebhook]) -> dict[str, ReceivedWebhook]:
    return {hook.json()["EventBody"]["Username"]: hook for hook in webhooks}


def test_an_email_shared_by_three_users_sends_three_codes_each_good_for_its_own_user_once(
    deployment: Deployment, marketplace: Marketplace, receiver: WebhookReceiver
) -> None:
    accepted = deployment.request_otp(ClientID=marketplace.client_id, Email=SHARED_EMAIL.upper())
    assert (accepted.status_code, accepted.content) == (204, b"")

    webhooks = _by_username(receiver.wait_for(3, timeout=90))
    assert set(webhooks) == set(marketplace.usernames)
    codes = {username: hook.code for username, hook in webhooks.items()}
    assert len(set(codes.values())) == 3
    assert {hook.path for hook in webhooks.values()} == {"/hooks/onetimepassword"}
    assert len({hook.headers["webhook-id"] for hook in webhooks.values()}) == 3

    first, second, third = marketplace.usernames
    # A code is bound to its user: the first user's code does not open the second account.
    crossed = deployment.login(marketplace.client_id, second, codes[first])
    assert crossed.json()["Errors"][0]["ErrorCode"] == "Auth.InvalidUsernameOrPassword"

    for username in marketplace.usernames:
        granted = deployment.login(marketplace.client_id, username, codes[username])
        assert granted.status_code == 200, granted.text
        claims = jwt.decode(granted.json()["access_token"], options={"verify_signature": False})
        assert (claims["usr"], claims["cid"]) == (username, marketplace.client_id)
        assert sorted(claims["role"]) == ["MeAdmin", "Shopper"]
        replay = deployment.login(marketplace.client_id, username, codes[username])
        assert replay.json()["Errors"][0]["ErrorCode"] == "Auth.InvalidUsernameOrPassword"

    me = httpx.get(
        f"{deployment.api}/v1/me",
        headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
    )
    assert me.json()["Username"] == third
    output = deployment.output()
    assert all(code not in output for code in codes.values())


def test_a_username_with_someone_elses_email_and_an_unknown_user_get_the_same_answer_and_nothing(
    deployment: Deployment,
    marketplace: Marketplace,
    receiver: WebhookReceiver,
    committed_db: Engine,
) -> None:
    answers = [
        deployment.request_otp(
            ClientID=marketplace.client_id, Username=marketplace.loner, Email=SHARED_EMAIL
        ),
        deployment.request_otp(ClientID=marketplace.client_id, Username="nobody-at-all"),
        deployment.request_otp(ClientID=marketplace.client_id, Username=marketplace.loner),
    ]

    def comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = sorted((k, v) for k, v in response.headers.items() if k.lower() != "date")
        return response.status_code, headers, response.content

    assert comparable(answers[0]) == comparable(answers[1]) == comparable(answers[2])
    # The worker handles events in order with one thread: once the third request's webhook
    # has arrived, the first two were processed, and they sent nothing.
    (only,) = receiver.wait_for(1, timeout=90)
    assert only.json()["EventBody"]["Username"] == marketplace.loner
    with Session(committed_db) as session:
        issued = session.scalar(
            select(func.count())
            .select_from(OneTimePassword)
            .join(User, User.id == OneTimePassword.user_id)
        )
    assert issued == 1
