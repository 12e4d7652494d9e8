"""The workers' Prometheus counters. Exposing them on ``OTP_WORKER_METRICS_PORT`` is ops'
part; these only count (in the process's default registry)."""

from __future__ import annotations

from prometheus_client import Counter

from core.delivery import DeliveryOutcome
from core.issuance import IssuanceResult

OTPS_ISSUED = Counter("otp_issued", "OTPs issued by the fan-out")
OTPS_THROTTLED = Counter(
    "otp_throttled", "OTPs not issued because the user reached OTP_MAX_PER_USER in the window"
)
DELIVERY_OUTCOMES = Counter(
    "otp_delivery_attempt_outcomes",
    "Delivery actor runs by channel and outcome (delivered, failed, expired, retry, skipped)",
    ["channel", "outcome"],
)


def record_issuance(result: IssuanceResult) -> None:
    OTPS_ISSUED.inc(result.issued)
    OTPS_THROTTLED.inc(result.throttled)


def record_delivery(channel: str, outcome: DeliveryOutcome) -> None:
    DELIVERY_OUTCOMES.labels(channel=channel, outcome=outcome.status).inc()
