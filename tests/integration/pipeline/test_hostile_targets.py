"""Delivery targets an attacker configured: refused at save time, failed (once) at send time.

A target stored before save-time validation existed (written here straight to the
database) with CR/LF or non-ASCII in its auth header fails its delivery on the first
attempt, and no answer of the api ever shows a write-only value, a URL query or a code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.models import FAILED, PENDING, MessageSender, MessageSenderAssignment
from core.platform.secret_box import SecretBox
from core.platform.settings import Settings
from tests.factories import (
    make_buyer,
    make_client,
    make_delivery_config,
    make_user,
    make_webhook_sender,
)
from tests.integration.admin.conftest import AdminClient, error_of, make_admin_client
from tests.integration.pipeline.conftest import PipelineFactory
from tests.processes import free_port
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def admin(settings: Settings, committed_db: object) -> Iterator[AdminClient]:
    yield from make_admin_client(settings)


def _configured_sender(session: Session, targets: dict[str, object]) -> MessageSender:
    config = make_delivery_config(session, targets=targets)
    sender = MessageSender(
        id=f"hostile-{config.id}",
        name="Hostile",
        message_types=["OneTimePassword"],
        delivery_config_id=config.id,
        allow_all_buyers=True,
    )
    session.add(sender)
    session.flush()
    session.add(MessageSenderAssignment(message_sender_id=sender.id, buyer_id=None))
    session.flush()
    return sender


@pytest.mark.parametrize(
    "header_value",
    ["Bearer planted-crlf-secret\r\nX-Injected: 1", "Bearer planted-sécret-värde"],
)
def test_an_unsendable_auth_header_fails_the_delivery_at_once_without_echoing_it(
    header_value: str,
    start_pipeline: PipelineFactory,
    receiver: WebhookReceiver,
    committed_session: Session,
    admin: AdminClient,
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    _configured_sender(
        committed_session,
        {
            "Http": {
                "Endpoint": f"{receiver.url}/hook?token=planted-query-secret",
                "Secret": "planted-signing-secret",
                "CustomAuthHeaderName": "Authorization",
                "CustomAuthHeaderValue": header_value,
            }
        },
    )
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()

    pipeline.request(client.id, username=user.username)
    delivery = pipeline.wait_for_delivery(lambda row: row.status != PENDING)

    assert (delivery.status, delivery.attempts) == (FAILED, 1)
    assert delivery.last_error is not None
    assert "cannot be sent" in delivery.last_error
    assert receiver.received == []
    listed = admin.get("/v1/deliveries").get_data(as_text=True)
    for planted in ("planted", "X-Injected", "sécret", "token="):
        assert planted not in listed
        assert planted not in delivery.last_error


def test_every_write_only_field_planted_is_in_no_answer(
    start_pipeline: PipelineFactory, committed_session: Session, admin: AdminClient
) -> None:
    """Secrets planted in each write-only field; deliveries fail (closed ports); every
    admin answer that mentions the sender, its config or its deliveries is scanned."""
    closed = free_port()
    planted = {
        "SharedKey": "planted-shared-key-1",
        "MessageSender.Secret": "planted-webhook-secret-2",
        "Http.Secret": "planted-http-secret-3",
        "Http.CustomAuthHeaderValue": "Bearer planted-header-4",
        "Smtp.Password": "planted-smtp-password-5",
    }
    planted_query = "planted-query-6"
    config = admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "ID": "planted",
            "Name": "Planted",
            "DeliveryTargets": {
                "MessageSender": {
                    "Endpoint": f"http://127.0.0.1:{closed}/a?k={planted_query}",
                    "Secret": planted["MessageSender.Secret"],
                },
                "Http": {
                    "Endpoint": f"http://127.0.0.1:{closed}/b?k={planted_query}",
                    "Secret": planted["Http.Secret"],
                    "CustomAuthHeaderName": "Authorization",
                    "CustomAuthHeaderValue": planted["Http.CustomAuthHeaderValue"],
                },
                "Smtp": {
                    "Host": "127.0.0.1",
                    "Port": closed,
                    "Username": "relay-user",
                    "Password": planted["Smtp.Password"],
                    "From": "shop@example.com",
                    "Security": "none",
                },
            },
        },
    )
    assert config.status_code == 201, config.data
    senders = [
        admin.post(
            "/v1/messagesenders",
            json={
                "ID": "planted-config",
                "Name": "P",
                "MessageTypes": ["OneTimePassword"],
                "DeliveryConfigID": "planted",
            },
        ),
        admin.post(
            "/v1/messagesenders",
            json={
                "ID": "planted-legacy",
                "Name": "L",
                "MessageTypes": ["OneTimePassword"],
                "URL": f"http://127.0.0.1:{closed}/c?k={planted_query}",
                "SharedKey": planted["SharedKey"],
            },
        ),
    ]
    assert [response.status_code for response in senders] == [201, 201]
    for sender_id in ("planted-config", "planted-legacy"):
        assigned = admin.post("/v1/messagesenders/assignments", json={"MessageSenderID": sender_id})
        assert assigned.status_code in (200, 201, 204), assigned.data
    client = make_client(committed_session, allow_any_buyer=True)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()

    pipeline.request(client.id, username=user.username)
    pipeline.wait_for_delivery(lambda row: row.target == "Smtp" and row.attempts >= 1)
    pipeline.wait_for_delivery(lambda row: row.target == "Http" and row.attempts >= 1)
    pipeline.wait_for_delivery(lambda row: row.target == "Legacy" and row.attempts >= 1)

    answers = [
        admin.get(path).get_data(as_text=True)
        for path in (
            "/v1/deliveries",
            "/v1/messagesenders",
            "/v1/messagesenders/planted-config",
            "/v1/messagesenders/planted-legacy",
            "/v1/integrations/deliveryconfig",
            "/v1/integrations/deliveryconfig/planted",
        )
    ]
    errors = [row.last_error or "" for row in pipeline.deliveries()]
    assert any("refused" in error.lower() for error in errors), errors
    for answer in (*answers, *errors):
        for name, secret in planted.items():
            assert secret not in answer, name
    # The endpoint is readable configuration; its query appears in no delivery's record.
    assert all(planted_query not in text for text in (answers[0], *errors))


def test_header_names_and_values_are_validated_at_save_time(admin: AdminClient) -> None:
    def http_target(**fields: str) -> dict[str, object]:
        target = {"Endpoint": "https://example.com/hook", "Secret": "s", **fields}
        return {"ID": "h", "Name": "H", "DeliveryTargets": {"Http": target}}

    cases = {
        "CustomAuthHeaderName": ["X Auth", "X-Auth:", "Ünï", "a\tb"],
        "CustomAuthHeaderValue": ["a\r\nb", "tab\there", "sécret", " padded"],
    }
    for field, values in cases.items():
        for value in values:
            response = admin.post(
                "/v1/integrations/deliveryconfig",
                json=http_target(**{"CustomAuthHeaderName": "Authorization", field: value}),
            )
            assert response.status_code == 400, (field, value)
            error = error_of(response)
            assert error["ErrorCode"] == "InvalidRequest"
            assert error["Data"]["Field"] == f"DeliveryTargets.Http.{field}"
            assert value not in response.get_data(as_text=True)
    smtp = {"Host": "relay.example.com", "From": "a@example.com\r\nBcc: x@example.com"}
    refused = admin.post(
        "/v1/integrations/deliveryconfig",
        json={"ID": "s", "Name": "S", "DeliveryTargets": {"Smtp": smtp}},
    )
    assert error_of(refused)["Data"]["Field"] == "DeliveryTargets.Smtp.From"
    accepted = admin.post(
        "/v1/integrations/deliveryconfig",
        json=http_target(CustomAuthHeaderName="X-Api-Key", CustomAuthHeaderValue="Bearer a b"),
    )
    assert accepted.status_code == 201, accepted.data


def test_a_secret_no_configured_key_opens_fails_the_delivery_without_retries(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    sender = make_webhook_sender(committed_session, url=receiver.url)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    dropped_key = SecretBox([b"a-key-that-was-dropped-0123456789abcdef"])
    committed_session.execute(
        text("UPDATE message_senders SET shared_key = :key WHERE id = :id"),
        {"key": dropped_key.seal("shared-key"), "id": sender.id},
    )
    committed_session.commit()
    pipeline = start_pipeline()

    pipeline.request(client.id, username=user.username)
    delivery = pipeline.wait_for_delivery(lambda row: row.status != PENDING)

    assert (delivery.status, delivery.attempts) == (FAILED, 0)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("a stored secret opens with none of the configured keys")
    assert receiver.received == []
