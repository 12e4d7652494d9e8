"""The fan-out under concurrency: the throttle and idempotency hold (real PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import Engine

from core.messaging.events import OtpRequested
from core.otp.fanout import IssuanceResult, PendingDelivery, process_otp_request
from core.platform.runtime import Runtime
from tests.factories import make_buyer, make_client, make_user, make_webhook_sender


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[PendingDelivery] = []

    def publish(self, deliveries: Sequence[PendingDelivery]) -> None:
        self.published.extend(deliveries)


def _storefront_user(runtime: Runtime) -> tuple[str, str]:
    """A client, a marketplace-wide webhook sender and one buyer user: (ClientID, username)."""
    with runtime.sessions.begin() as session:
        client = make_client(session, allow_any_buyer=True)
        make_webhook_sender(session, url="http://127.0.0.1:9/hook")
        user = make_user(session, buyer=make_buyer(session))
        return client.id, user.username


def _fan_out_together(runtime: Runtime, events: list[OtpRequested]) -> list[IssuanceResult]:
    """Every event's fan-out in its own thread and transaction, all started at once."""
    start = threading.Barrier(len(events))
    publisher = RecordingPublisher()

    def fan_out(event: OtpRequested) -> IssuanceResult:
        start.wait(timeout=30)
        return process_otp_request(
            runtime.sessions,
            event,
            settings=runtime.settings,
            clock=runtime.clock,
            publisher=publisher,
        )

    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(fan_out, events))


def _event(client_id: str, username: str, request_id: str) -> OtpRequested:
    return OtpRequested(
        request_id=request_id,
        client_id=client_id,
        username=username,
        requested_at=datetime.now(UTC),
    )


def test_concurrent_requests_for_one_user_issue_no_more_codes_than_the_throttle_allows(
    runtime: Runtime, committed_db: Engine
) -> None:
    client_id, username = _storefront_user(runtime)
    requests = 12
    events = [_event(client_id, username, f"request-{number}") for number in range(requests)]

    results = _fan_out_together(runtime, events)

    allowed = runtime.settings.otp_max_per_user
    assert sum(result.issued for result in results) == allowed
    assert sum(result.throttled for result in results) == requests - allowed
    assert sum(len(result.deliveries) for result in results) == allowed


def test_one_request_redelivered_concurrently_issues_one_code(
    runtime: Runtime, committed_db: Engine
) -> None:
    client_id, username = _storefront_user(runtime)
    event = _event(client_id, username, "redelivered")

    results = _fan_out_together(runtime, [event] * 6)

    assert sum(result.issued for result in results) == 1
    assert sum(result.already_issued for result in results) == 5
