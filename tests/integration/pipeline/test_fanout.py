"""The fan-out worker applies the matching rules and the throttle (docs/http-api.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.models import ApiClient
from core.otp.codes import lookup_hash
from core.otp.fanout import issue_otps_for_request
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_buyer, make_client, make_user, make_webhook_sender
from tests.integration.pipeline.conftest import PipelineFactory, otp_requested
from tests.webhook_receiver import WebhookReceiver

SECRET = TEST_SECRET_KEY.encode()


def _storefront(session: Session, receiver: WebhookReceiver) -> ApiClient:
    """A client open to any buyer and a marketplace-wide webhook sender."""
    client = make_client(session, allow_any_buyer=True)
    make_webhook_sender(session, url=receiver.url)
    return client


def test_email_shared_by_three_users_sends_three_distinct_codes_each_bound_to_its_user(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = _storefront(committed_session, receiver)
    buyer = make_buyer(committed_session)
    users = [
        make_user(committed_session, buyer=buyer, email="Shared@Example.com") for _ in range(3)
    ]
    make_user(committed_session, buyer=buyer, email="someone-else@example.com")
    committed_session.commit()
    pipeline = start_pipeline()

    pipeline.request(client.id, email="shared@example.COM")
    webhooks = receiver.wait_for(3)
    pipeline.settle()

    assert len(receiver.received) == 3
    by_user = {hook.json()["Recipient"]["ID"]: hook.code for hook in webhooks}
    assert set(by_user) == {user.id for user in users}
    assert len(set(by_user.values())) == 3
    otps = {otp.user_id: otp for otp in pipeline.otps()}
    for user_id, code in by_user.items():
        for other_id, otp in otps.items():
            expected = lookup_hash(SECRET, user_id=other_id, client_id=client.id, code=code)
            assert (otp.lookup_hash == expected) == (other_id == user_id)


def test_username_with_an_email_that_is_not_its_own_sends_nothing(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = _storefront(committed_session, receiver)
    buyer = make_buyer(committed_session)
    alice = make_user(committed_session, buyer=buyer, username="alice", email="alice@example.com")
    make_user(committed_session, buyer=buyer, username="bob", email="bob@example.com")
    committed_session.commit()
    pipeline = start_pipeline()

    pipeline.request(client.id, username="alice", email="bob@example.com")
    pipeline.request(client.id, username="ALICE", email="Alice@Example.com")  # the control
    receiver.wait_for(1)
    pipeline.settle()

    assert [hook.json()["Recipient"]["ID"] for hook in receiver.received] == [alice.id]
    assert len(pipeline.otps()) == 1


def test_unknown_inactive_and_not_allowed_users_get_nothing(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    member = make_buyer(committed_session)
    outsider = make_buyer(committed_session)
    closed = make_buyer(committed_session, active=False)
    client = make_client(committed_session, buyers=[member, closed])
    make_webhook_sender(committed_session, url=receiver.url)
    eligible = make_user(committed_session, buyer=member, username="eligible")
    make_user(committed_session, buyer=member, username="inactive", active=False)
    make_user(committed_session, buyer=closed, username="closed-buyer")
    make_user(committed_session, buyer=outsider, username="not-assigned")
    make_user(committed_session, username="admin-on-shop")  # client does not AllowSeller
    inactive_client = make_client(committed_session, allow_any_buyer=True, active=False)
    committed_session.commit()
    pipeline = start_pipeline()

    for username in ("nobody", "inactive", "closed-buyer", "not-assigned", "admin-on-shop"):
        pipeline.request(client.id, username=username)
    pipeline.request(inactive_client.id, username="eligible")
    pipeline.request("no-such-client", username="eligible")
    pipeline.request(client.id, username="eligible")  # the control
    receiver.wait_for(1)
    pipeline.settle()

    assert [hook.json()["Recipient"]["ID"] for hook in receiver.received] == [eligible.id]
    assert [otp.user_id for otp in pipeline.otps()] == [eligible.id]


def test_the_sixth_request_within_the_throttle_window_is_dropped(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = _storefront(committed_session, receiver)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()
    clock = pipeline.runtime.clock

    for _ in range(6):
        pipeline.request(client.id, username=user.username)
    receiver.wait_for(5)
    pipeline.settle()
    assert len(receiver.received) == 5
    assert len(pipeline.otps(user_id=user.id)) == 5

    clock.advance(pipeline.runtime.settings.otp_throttle_window + 1)  # type: ignore[attr-defined]
    pipeline.request(client.id, username=user.username)
    receiver.wait_for(6)
    assert len(pipeline.otps(user_id=user.id)) == 6


def test_a_redelivered_request_issues_no_second_code_and_no_second_delivery(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = _storefront(committed_session, receiver)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()

    event = otp_requested(client.id, username=user.username)
    pipeline.publish(event)
    pipeline.publish(event)
    receiver.wait_for(1)
    pipeline.settle()

    assert len(pipeline.otps(request_id=event.request_id)) == 1
    assert len(pipeline.deliveries(request_id=event.request_id)) == 1
    assert len(receiver.received) == 1


def test_a_request_committed_but_never_published_is_published_when_redelivered(
    start_pipeline: PipelineFactory, receiver: WebhookReceiver, committed_session: Session
) -> None:
    client = _storefront(committed_session, receiver)
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()
    event = otp_requested(client.id, username=user.username)
    # The first run: rows committed, then the worker died before publishing.
    with Session(pipeline.runtime.engine) as session, session.begin():
        first = issue_otps_for_request(
            session, event, settings=pipeline.runtime.settings, clock=pipeline.runtime.clock
        )
    assert first.issued == 1

    pipeline.publish(event)
    (webhook,) = receiver.wait_for(1)
    pipeline.settle()

    assert webhook.headers["webhook-id"] == first.deliveries[0].id
    assert len(pipeline.otps(request_id=event.request_id)) == 1
    assert [d.status for d in pipeline.deliveries()] == ["delivered"]
