from __future__ import annotations

from prometheus_client import REGISTRY

from core.platform import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_rejection_reason_outside_the_known_set_is_counted_as_other() -> None:
    before = value("otp_requests_total", outcome="rejected", reason="other")
    metrics.record_otp_request("rejected", "alice@example.com")
    assert value("otp_requests_total", outcome="rejected", reason="other") == before + 1
    assert (
        REGISTRY.get_sample_value(
            "otp_requests_total", {"outcome": "rejected", "reason": "alice@example.com"}
        )
        is None
    )


def test_no_label_of_any_domain_metric_can_hold_a_username_email_or_code() -> None:
    hostile = ("alice", "bob@example.com", "40417731")
    for text in hostile:
        metrics.record_otp_request(text, text)
        metrics.record_token_grant(text, text, text)
        metrics.record_request_dropped(text)
        metrics.record_delivery(text, text, 1.0)
    exposition = "\n".join(
        f"{sample.name}{sample.labels}"
        for family in REGISTRY.collect()
        if family.name.startswith("otp_")
        for sample in family.samples
    )
    for text in hostile:
        assert text not in exposition


def test_accepted_requests_carry_no_reason() -> None:
    before = value("otp_requests_total", outcome="accepted", reason="none")
    metrics.record_otp_request("accepted")
    assert value("otp_requests_total", outcome="accepted", reason="none") == before + 1


def test_token_grants_are_counted_by_grant_type_outcome_and_credential() -> None:
    labels = {"grant_type": "password", "outcome": "granted", "credential": "otp"}
    before = value("otp_token_grants_total", **labels)
    metrics.record_token_grant("password", "granted", "otp")
    assert value("otp_token_grants_total", **labels) == before + 1


def test_only_delivered_messages_feed_the_request_to_delivery_histogram() -> None:
    count = "otp_request_to_delivery_seconds_count"
    before = value(count, channel="email")
    metrics.record_delivery("email", "failed", 3.0)
    metrics.record_delivery("email", "delivered", 3.0)
    assert value(count, channel="email") == before + 1
    assert value("otp_deliveries_total", channel="email", outcome="failed") >= 1


def test_lockouts_issued_codes_and_dropped_requests_are_counted() -> None:
    lockouts = value("otp_lockouts_total")
    issued = value("otp_passwords_issued_total")
    throttled = value("otp_requests_dropped_total", reason="throttled")
    metrics.record_lockout()
    metrics.record_otps_issued(3)
    metrics.record_request_dropped("throttled")
    assert value("otp_lockouts_total") == lockouts + 1
    assert value("otp_passwords_issued_total") == issued + 3
    assert value("otp_requests_dropped_total", reason="throttled") == throttled + 1
