"""One correlation id per OTP request, made by the service; every answer counted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from core.messaging.events import OtpRequested
from tests.logs import capture_json_log
from tests.otp_marketplace import OTP_PATH, committed_marketplace
from tests.otp_queue import take_all


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    with capture_json_log(logging.INFO) as stream:
        yield stream


def requests_counted(outcome: str, reason: str = "none") -> float:
    return (
        REGISTRY.get_sample_value("otp_requests_total", {"outcome": outcome, "reason": reason})
        or 0.0
    )


def test_a_reused_caller_request_id_never_becomes_the_events_request_id(
    api_client: FlaskClient, committed_db: Engine, clean_broker: str, json_log: io.StringIO
) -> None:
    marketplace = committed_marketplace(committed_db)
    for _ in range(2):
        answer = api_client.post(
            OTP_PATH,
            json={"ClientID": marketplace.client_id, "Username": "alice"},
            headers={"X-Request-Id": "client-reuses-this"},
        )
        assert answer.status_code == 204
        assert answer.headers["X-Request-Id"] == "client-reuses-this"
    events = [
        OtpRequested.from_message(queued.message.args[0]) for queued in take_all(clean_broker)
    ]
    request_ids = [event.request_id for event in events]
    # Two requests, two ids: the fan-out's per-request deduplication cannot swallow one.
    assert len(set(request_ids)) == 2
    assert "client-reuses-this" not in request_ids
    # Each event's id is its HTTP request's correlation id, and the message carries it too.
    entries = [json.loads(line) for line in json_log.getvalue().splitlines()]
    access = [entry for entry in entries if entry["logger"] == "otp.access"]
    assert sorted(entry["correlation_id"] for entry in access) == sorted(request_ids)
    assert {entry["caller_request_id"] for entry in access} == {"client-reuses-this"}


def test_the_queued_message_carries_the_events_request_id_as_its_correlation_id(
    api_client: FlaskClient, committed_db: Engine, clean_broker: str
) -> None:
    marketplace = committed_marketplace(committed_db)
    api_client.post(OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@example.com"})
    (queued,) = take_all(clean_broker)
    event = OtpRequested.from_message(queued.message.args[0])
    assert queued.message.options["correlation_id"] == event.request_id


def test_accepted_and_each_kind_of_refused_request_is_counted_by_reason(
    api_client: FlaskClient, committed_db: Engine, clean_broker: str
) -> None:
    marketplace = committed_marketplace(committed_db)
    cases = [
        ({"ClientID": marketplace.client_id, "Username": "bob"}, ("accepted", "none")),
        ({"ClientID": marketplace.client_id}, ("rejected", "username_or_email_required")),
        ({"ClientID": "no-such-client", "Username": "bob"}, ("rejected", "invalid_client")),
        ({"ClientID": 7, "Username": "bob"}, ("rejected", "invalid_request")),
    ]
    for body, labels in cases:
        before = requests_counted(*labels)
        api_client.post(OTP_PATH, json=body)
        assert requests_counted(*labels) == before + 1, labels
