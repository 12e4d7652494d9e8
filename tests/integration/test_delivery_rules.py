"""The channel-independent delivery service: what it sends, skips, fails and expires."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from core.delivery.address_policy import AddressPolicy
from core.delivery.attempts import AttemptResult, Channel, OtpMessage
from core.delivery.channels.webhook import WebhookChannel
from core.delivery.service import DeliveryOutcome, OutcomeStatus, deliver_otp
from core.delivery.templates import MessageRenderer
from core.messaging.events import OtpRequested
from core.models import Delivery, DeliveryConfig, OneTimePassword
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
from tests.integration.pipeline.conftest import TEST_RETRY_POLICY

# The receivers listen on loopback, which the default policy blocks.
ALLOW_LOOPBACK = AddressPolicy(blocked=())


class RecordingChannel:
    """A channel that records what it was asked to send (the channel is not under test)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.sent: list[OtpMessage] = []
        self.started = threading.Event()
        self.gate = gate

    def send(self, message: OtpMessage) -> AttemptResult:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(timeout=30)
        self.sent.append(message)
        return AttemptResult.delivered(200)

    def close(self) -> None:
        pass


@pytest.fixture
def issued(runtime: Runtime, committed_db: object) -> Iterator[tuple[str, str]]:
    """One OTP for one user through one delivery-config webhook target: (delivery, config)."""
    with runtime.sessions.begin() as session:
        client = make_client(session, allow_any_buyer=True)
        config = make_delivery_config(
            session, targets={"MessageSender": {"Endpoint": "ftp://nowhere", "Secret": "k"}}
        )
        make_webhook_sender(session, url=None, shared_key=None, delivery_config_id=config.id)
        user = make_user(session, buyer=make_buyer(session))
        result = issue_otps_for_request(
            session,
            OtpRequested(
                request_id="r1",
                client_id=client.id,
                username=user.username,
                requested_at=datetime.now(UTC),
            ),
            settings=runtime.settings,
            clock=runtime.clock,
        )
    yield result.deliveries[0].id, config.id


def _deliver(runtime: Runtime, delivery_id: str, channel: Channel) -> DeliveryOutcome:
    return deliver_otp(
        runtime.engine,
        delivery_id,
        channel=channel,
        settings=runtime.settings,
        clock=runtime.clock,
        renderer=MessageRenderer(),
        retry_policy=TEST_RETRY_POLICY,
    )


def test_a_duplicate_message_for_a_delivery_being_sent_does_nothing(
    runtime: Runtime, issued: tuple[str, str]
) -> None:
    delivery_id, _ = issued
    gate = threading.Event()
    first, duplicate = RecordingChannel(gate), RecordingChannel()
    outcomes: list[DeliveryOutcome] = []
    sender = threading.Thread(target=lambda: outcomes.append(_deliver(runtime, delivery_id, first)))
    sender.start()
    assert first.started.wait(timeout=30)

    assert _deliver(runtime, delivery_id, duplicate).status is OutcomeStatus.SKIPPED
    gate.set()
    sender.join(timeout=30)

    assert [outcome.status for outcome in outcomes] == ["delivered"]
    assert (len(first.sent), len(duplicate.sent)) == (1, 0)
    assert (
        _deliver(runtime, delivery_id, duplicate).status is OutcomeStatus.SKIPPED
    )  # delivered already


def test_an_otp_used_before_its_delivery_is_not_sent(
    runtime: Runtime, issued: tuple[str, str]
) -> None:
    delivery_id, _ = issued
    with runtime.sessions.begin() as session:
        session.query(OneTimePassword).update({"used_at": datetime.now(UTC)})
    send = RecordingChannel()

    assert _deliver(runtime, delivery_id, send).status == "expired"
    assert send.sent == []


def test_a_config_disabled_after_the_fan_out_fails_the_delivery_unsent(
    runtime: Runtime, issued: tuple[str, str]
) -> None:
    delivery_id, config_id = issued
    with runtime.sessions.begin() as session:
        session.query(DeliveryConfig).filter_by(id=config_id).update({"enabled": False})
    send = RecordingChannel()

    assert _deliver(runtime, delivery_id, send).status == "failed"
    assert send.sent == []


def test_an_endpoint_no_retry_can_mend_fails_at_once(
    runtime: Runtime, issued: tuple[str, str]
) -> None:
    delivery_id, _ = issued
    channel = WebhookChannel(timeout=2, clock=FrozenClock(), policy=ALLOW_LOOPBACK)
    try:
        outcome = _deliver(runtime, delivery_id, channel)
    finally:
        channel.close()

    assert outcome.status == "failed"
    with Session(runtime.engine) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        assert (row.attempts, row.last_status_code) == (1, None)
        assert (row.last_error or "").startswith("UnsupportedProtocol")
