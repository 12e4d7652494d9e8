from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from core.delivery.attempts import AttemptStatus
from core.delivery.service import RetryPolicy
from core.delivery.templates import MessageRenderer, TemplateRenderError
from core.delivery.webhooks import (
    WebhookResponse,
    classify_response,
    parse_retry_after,
    standard_webhooks_key,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_whsec_key_is_base64_decoded_and_any_other_key_used_as_utf8() -> None:
    raw = b"\x00\x01binary key bytes"
    assert standard_webhooks_key("whsec_" + base64.b64encode(raw).decode()) == raw
    assert standard_webhooks_key("plain key é") == "plain key é".encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, AttemptStatus.DELIVERED),
        (204, AttemptStatus.DELIVERED),
        (408, AttemptStatus.RETRY),
        (429, AttemptStatus.RETRY),
        (500, AttemptStatus.RETRY),
        (503, AttemptStatus.RETRY),
        (301, AttemptStatus.FAILED),
        (400, AttemptStatus.FAILED),
        (401, AttemptStatus.FAILED),
        (404, AttemptStatus.FAILED),
    ],
)
def test_2xx_succeeds_408_429_and_5xx_retry_other_answers_fail(
    status: int, expected: AttemptStatus
) -> None:
    result = classify_response(WebhookResponse(status), NOW)
    assert (result.status, result.status_code) == (expected, status)


def test_network_errors_retry_unless_the_endpoint_itself_is_malformed() -> None:
    network_error = WebhookResponse(None, error="ConnectError")
    assert classify_response(network_error, NOW).status is AttemptStatus.RETRY
    malformed = WebhookResponse(None, error="UnsupportedProtocol", permanent=True)
    assert classify_response(malformed, NOW).status is AttemptStatus.FAILED


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_backoff_doubles_with_jitter_up_to_its_cap_and_never_undercuts_retry_after() -> None:
    policy = RetryPolicy(min_backoff_ms=1000, max_backoff_ms=60_000)
    for attempts, low, high in [(1, 1000, 1500), (2, 2000, 3000), (3, 4000, 6000)]:
        assert low <= policy.delay_ms(attempts) <= high
    assert 60_000 <= policy.delay_ms(30) <= 90_000
    assert policy.delay_ms(1, retry_after=90) == 90_000


def test_a_failing_override_reports_its_part_but_never_a_context_value() -> None:
    renderer = MessageRenderer()
    context = {
        "code": "48213377",
        "username": "jo",
        "first_name": "Jo",
        "app_name": "Shop",
        "client_id": "C1",
        "expires_at": "2026-01-01T12:10:00Z",
        "expires_in_minutes": 10,
    }
    assert "48213377" in renderer.render("one_time_password", context).text
    with pytest.raises(TemplateRenderError) as raised:
        renderer.render("one_time_password", context, {"body.txt": "{{ {}[code].x }}"})
    assert "body.txt" in str(raised.value)
    assert "48213377" not in str(raised.value)
    with pytest.raises(TemplateRenderError, match=r"subject\.txt: line 1"):
        renderer.render("one_time_password", context, {"subject.txt": "{{ code "})
