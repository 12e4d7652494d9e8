"""The outbound address policy against real receivers on loopback.

Under the default OTP_BLOCKED_TARGET_NETWORKS a webhook or SMTP target on 127.0.0.1 (or
a name resolving there) fails at once with the blocked-network error and nothing
arrives; with ``none`` the same target is delivered. The admin API refuses a blocked
literal address when a target is saved.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from core.models import DELIVERED, FAILED, PENDING
from core.platform.settings import DEFAULT_BLOCKED_NETWORKS, Settings
from tests.factories import (
    make_buyer,
    make_client,
    make_email_sender,
    make_user,
    make_webhook_sender,
)
from tests.integration.admin.conftest import AdminClient, error_of, make_admin_client
from tests.integration.pipeline.conftest import PipelineFactory
from tests.smtp import SmtpSink, running_smtp_sink
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with running_smtp_sink() as sink:
        yield sink


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_webhook_on_loopback_fails_under_the_default_policy(
    host: str,
    start_pipeline: PipelineFactory,
    receiver: WebhookReceiver,
    committed_session: Session,
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    url = receiver.url.replace("127.0.0.1", host)
    make_webhook_sender(committed_session, url=url)  # stored directly: no save-time check
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline(blocked_target_networks=DEFAULT_BLOCKED_NETWORKS)

    pipeline.request(client.id, username=user.username)
    delivery = pipeline.wait_for_delivery(lambda row: row.status != PENDING)

    assert (delivery.status, delivery.attempts) == (FAILED, 1)
    assert delivery.last_error in {
        "destination 127.0.0.1 is in a blocked network",
        "destination ::1 is in a blocked network",
    }
    assert receiver.received == []


def test_the_same_webhook_is_delivered_when_the_policy_is_none(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_webhook_sender(committed_session, url=receiver.url)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline(blocked_target_networks=())

    pipeline.request(client.id, username=user.username)
    delivery = pipeline.wait_for_delivery(lambda row: row.status != PENDING)

    assert delivery.status == DELIVERED
    assert len(receiver.wait_for(1)) == 1


def test_an_smtp_relay_on_loopback_fails_under_the_default_policy(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline(blocked_target_networks=DEFAULT_BLOCKED_NETWORKS)

    pipeline.request(client.id, username=user.username)
    delivery = pipeline.wait_for_delivery(lambda row: row.status != PENDING)

    assert (delivery.status, delivery.last_error) == (
        FAILED,
        "destination 127.0.0.1 is in a blocked network",
    )
    assert smtp_sink.received == []


@pytest.fixture
def guarded_admin(settings: Settings, committed_db: object) -> Iterator[AdminClient]:
    yield from make_admin_client(settings.replace(blocked_target_networks=DEFAULT_BLOCKED_NETWORKS))


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"Http": {"Endpoint": "http://2130706433/hook", "Secret": "s"}}, "Http.Endpoint"),
        ({"Http": {"Endpoint": "http://[::1]:8080/", "Secret": "s"}}, "Http.Endpoint"),
        (
            {"MessageSender": {"Endpoint": "http://169.254.169.254/latest", "Secret": "s"}},
            "MessageSender.Endpoint",
        ),
        ({"Smtp": {"Host": "localhost", "From": "a@example.com"}}, "Smtp.Host"),
    ],
)
def test_the_admin_api_refuses_a_blocked_literal_address_at_save_time(
    guarded_admin: AdminClient, target: dict[str, object], field: str
) -> None:
    response = guarded_admin.post(
        "/v1/integrations/deliveryconfig",
        json={"ID": "blocked", "Name": "B", "DeliveryTargets": target},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["ErrorCode"] == "InvalidRequest"
    assert error["Data"]["Field"] == f"DeliveryTargets.{field}"
    assert "is in a blocked network" in error["Data"]["Reason"]


def test_a_legacy_sender_url_on_loopback_is_refused_and_a_public_name_accepted(
    guarded_admin: AdminClient,
) -> None:
    refused = guarded_admin.post(
        "/v1/messagesenders",
        json={"Name": "L", "URL": "http://127.0.0.1:9090/metrics", "SharedKey": "k"},
    )
    accepted = guarded_admin.post(
        "/v1/messagesenders",
        json={"Name": "L", "URL": "https://hooks.example.com/otp", "SharedKey": "k"},
    )
    assert error_of(refused)["Data"] == {
        "Field": "URL",
        "Reason": "destination 127.0.0.1 is in a blocked network",
    }
    assert accepted.status_code == 201
