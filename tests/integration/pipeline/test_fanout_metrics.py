"""The fan-out and delivery actors count what they did in ``core.platform.metrics``."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy.orm import Session

from tests.factories import make_buyer, make_client, make_user, make_webhook_sender
from tests.integration.pipeline.conftest import PipelineFactory
from tests.webhook_receiver import WebhookReceiver


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_issued_codes_dropped_requests_and_deliveries_are_counted(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_webhook_sender(committed_session, url=receiver.url)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline(otp_max_per_user=1)
    before = {
        "issued": sample("otp_passwords_issued_total"),
        "mismatch": sample("otp_requests_dropped_total", reason="mismatch"),
        "throttled": sample("otp_requests_dropped_total", reason="throttled"),
        "delivered": sample("otp_deliveries_total", channel="webhook", outcome="delivered"),
        "latency": sample("otp_request_to_delivery_seconds_count", channel="webhook"),
    }

    pipeline.request(client.id, username=user.username)  # issued and delivered
    pipeline.request(client.id, username=user.username)  # over OTP_MAX_PER_USER=1
    pipeline.request(client.id, username="nobody-by-this-name")  # matches no user
    receiver.wait_for(1)
    pipeline.settle()

    assert sample("otp_passwords_issued_total") == before["issued"] + 1
    assert sample("otp_requests_dropped_total", reason="throttled") == before["throttled"] + 1
    assert sample("otp_requests_dropped_total", reason="mismatch") == before["mismatch"] + 1
    assert (
        sample("otp_deliveries_total", channel="webhook", outcome="delivered")
        == before["delivered"] + 1
    )
    assert (
        sample("otp_request_to_delivery_seconds_count", channel="webhook") == before["latency"] + 1
    )
