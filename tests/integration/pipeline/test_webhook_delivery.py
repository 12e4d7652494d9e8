"""Signed webhook delivery: payload, signatures, retries, failures and expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from core.delivery.address_policy import AddressPolicy
from core.delivery.channels.webhook import WebhookChannel
from core.delivery.service import OutcomeStatus, deliver_otp
from core.delivery.templates import MessageRenderer
from core.models import Delivery, MessageSenderAssignment
from core.otp.fanout import issue_otps_for_request
from core.platform.runtime import Runtime
from tests.doubles import FrozenClock
from tests.factories import (
    make_buyer,
    make_client,
    make_delivery_config,
    make_user,
    make_webhook_sender,
)
from tests.integration.pipeline.conftest import (
    TEST_RETRY_POLICY,
    PipelineFactory,
    otp_requested,
)
from tests.processes import free_port
from tests.webhook_receiver import WebhookReceiver

WHSEC_KEY = "whsec_" + base64.b64encode(b"a-32-byte-standard-webhooks-key!").decode()

# The receivers listen on loopback, which the default policy blocks.
ALLOW_LOOPBACK = AddressPolicy(blocked=())


def _oc_hash(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("shared_key", ["plain shared key", WHSEC_KEY])
def test_the_receiver_verifies_both_signatures_with_the_shared_key(
    shared_key: str,
    start_pipeline: PipelineFactory,
    receiver: WebhookReceiver,
    committed_session: Session,
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_webhook_sender(committed_session, url=receiver.url, shared_key=shared_key)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()

    pipeline.request(client.id, username=user.username)
    (webhook,) = receiver.wait_for(1)

    assert webhook.headers["x-oc-hash"] == _oc_hash(shared_key, webhook.body)
    # The library decodes whsec_ keys itself and takes any other key as raw bytes.
    verifier = Webhook(shared_key if shared_key.startswith("whsec_") else shared_key.encode())
    assert verifier.verify(webhook.body, webhook.headers) == webhook.json()
    with pytest.raises(Exception, match="signature"):
        Webhook(b"some other key").verify(webhook.body, webhook.headers)


def test_the_payload_and_headers_are_those_of_the_contract(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    buyer = make_buyer(committed_session)
    client = make_client(committed_session, buyers=[buyer], app_name="Shop <Main>")
    config = make_delivery_config(
        committed_session,
        targets={
            "Http": {
                "Endpoint": f"{receiver.url}/hooks/{{MessageType}}",
                "Secret": "http-secret",
                "CustomAuthHeaderName": "Authorization",
                "CustomAuthHeaderValue": "Bearer subscriber-token",
            }
        },
    )
    # Assigned to the buyer only: buyer users get it, as OrderCloud does.
    sender = make_webhook_sender(
        committed_session,
        url=None,
        shared_key=None,
        delivery_config_id=config.id,
        xp={"Brand": "Acme"},
        template_overrides={"subject.txt": "Code for {{ username }}: {{ code }}"},
    )
    assignment = committed_session.query(MessageSenderAssignment).filter_by(
        message_sender_id=sender.id
    )
    assignment.update({"buyer_id": buyer.id})
    user = make_user(
        committed_session,
        buyer=buyer,
        username="Jo",
        first_name="<b>Jo</b>",
        phone="555",
        xp={"Tier": 2},
    )
    committed_session.commit()
    pipeline = start_pipeline(environment="Sandbox")

    event = pipeline.request(client.id, email=user.email)
    (webhook,) = receiver.wait_for(1)
    body = webhook.json()
    delivery = pipeline.wait_until_final(pipeline.deliveries()[0].id)

    assert webhook.path == "/hooks/onetimepassword"
    assert webhook.headers["authorization"] == "Bearer subscriber-token"
    assert webhook.headers["content-type"] == "application/json"
    assert webhook.headers["webhook-id"] == delivery.id
    assert webhook.headers["x-oc-hash"] == _oc_hash("http-secret", webhook.body)
    code = body["EventBody"]["OneTimePassword"]
    assert code.isdigit() and len(code) == 8
    otp = pipeline.otps()[0]
    assert body == {
        "OcLogIdHeader": event.request_id,
        "Environment": "Sandbox",
        "BuyerID": buyer.id,
        "UserToken": None,
        "Recipient": {
            "ID": user.id,
            "Username": "Jo",
            "FirstName": "<b>Jo</b>",
            "LastName": "User",
            "Email": user.email,
            "Phone": "555",
            "Active": True,
            "xp": {"Tier": 2},
        },
        "MessageType": "OneTimePassword",
        "CCList": [],
        "EventBody": {
            "Username": "Jo",
            "ClientID": client.id,
            "OneTimePassword": code,
            "ExpiresAt": otp.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "ConfigData": {"Brand": "Acme"},
        "Message": body["Message"],
    }
    assert body["Message"]["Subject"] == f"Code for Jo: {code}"
    assert code in body["Message"]["Text"] and client.id in body["Message"]["Text"]
    assert "&lt;b&gt;Jo&lt;/b&gt;" in body["Message"]["Html"]  # autoescaped
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def _one_user_pipeline(
    start_pipeline: PipelineFactory,
    receiver: WebhookReceiver,
    session: Session,
    *,
    url: str | None = None,
    clock: FrozenClock | None = None,
) -> tuple[str, str]:
    client = make_client(session, allow_any_buyer=True)
    make_webhook_sender(session, url=url or receiver.url)
    user = make_user(session, buyer=make_buyer(session))
    session.commit()
    return client.id, user.username


def test_two_503s_then_200_deliver_on_the_third_attempt_with_the_same_webhook_id(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client_id, username = _one_user_pipeline(start_pipeline, receiver, committed_session)
    receiver.script(503, 503, 200)
    pipeline = start_pipeline()

    pipeline.request(client_id, username=username)
    webhooks = receiver.wait_for(3)
    delivery = pipeline.wait_until_final(pipeline.deliveries()[0].id)

    assert {hook.headers["webhook-id"] for hook in webhooks} == {delivery.id}
    assert len({hook.code for hook in webhooks}) == 1  # a retry resends the same code
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.last_error is None


def test_a_429_with_retry_after_is_retried_then_delivered(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client_id, username = _one_user_pipeline(start_pipeline, receiver, committed_session)
    receiver.script((429, {"Retry-After": "1"}))
    pipeline = start_pipeline()

    pipeline.request(client_id, username=username)
    receiver.wait_for(2)
    delivery = pipeline.wait_until_final(pipeline.deliveries()[0].id)

    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_retry_after_sets_the_next_attempt_and_past_the_expiry_it_expires_the_delivery(
    runtime: Runtime, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_webhook_sender(committed_session, url=receiver.url)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    with runtime.sessions.begin() as session:
        issued = issue_otps_for_request(
            session,
            otp_requested(client.id, username=user.username),
            settings=runtime.settings,
            clock=runtime.clock,
        )
    delivery_id = issued.deliveries[0].id
    channel = WebhookChannel(timeout=5, clock=runtime.clock, policy=ALLOW_LOOPBACK)

    def attempt() -> str | int | None:
        """One delivery attempt through the service the actor calls."""
        outcome = deliver_otp(
            runtime.engine,
            delivery_id,
            channel=channel,
            settings=runtime.settings,
            clock=runtime.clock,
            renderer=MessageRenderer(),
            retry_policy=TEST_RETRY_POLICY,
        )
        return outcome.retry_in_ms if outcome.status is OutcomeStatus.RETRY else outcome.status

    receiver.script((429, {"Retry-After": "120"}), (503, {"Retry-After": "3600"}))
    try:
        assert attempt() == 120_000  # the receiver's wish, above the 20 ms backoff
        assert attempt() == "expired"  # an hour is past the 10-minute OTP: no retry
        assert attempt() == "skipped"  # no longer pending
    finally:
        channel.close()
    with runtime.sessions() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        assert (row.status, row.attempts, row.last_status_code) == ("expired", 2, 503)
    assert len(receiver.received) == 2


def test_a_400_fails_the_delivery_after_one_attempt(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client_id, username = _one_user_pipeline(start_pipeline, receiver, committed_session)
    receiver.script(400)
    pipeline = start_pipeline()

    pipeline.request(client_id, username=username)
    delivery = pipeline.wait_for_delivery(lambda row: row.status != "pending")
    pipeline.settle()

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 400)
    assert delivery.last_error == "HTTP 400"
    assert len(receiver.received) == 1


def test_a_receiver_down_until_the_otp_expires_leaves_the_delivery_expired(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}/hook"
    client_id, username = _one_user_pipeline(
        start_pipeline, receiver, committed_session, url=nobody_listens
    )
    clock = FrozenClock(datetime.now(UTC))
    pipeline = start_pipeline(clock=clock)

    pipeline.request(client_id, username=username)
    failing = pipeline.wait_for_delivery(lambda row: row.attempts >= 2)
    assert failing.status == "pending" and "ConnectError" in (failing.last_error or "")
    clock.advance(pipeline.runtime.settings.otp_lifetime)
    delivery = pipeline.wait_until_final(failing.id)
    pipeline.settle()

    # Marked by the check before an attempt: nothing is sent for an expired OTP.
    assert (delivery.status, delivery.last_error) == ("expired", "the OTP expired before delivery")
