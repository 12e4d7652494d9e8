"""The service's domain metrics (Prometheus), incremented by api, token handler and workers.

Every label has a closed set of values, listed here: a value outside its set is recorded
as ``other``. No label ever carries a username, an email, a client id or a code, both to
keep those out of monitoring systems and to keep the number of series bounded.

The metric objects are module-level (Prometheus registers each name once per process).
Creating them opens nothing. Under gunicorn or ``otp worker`` with
``PROMETHEUS_MULTIPROC_DIR`` set before this module is imported, each process writes its
values to that directory and the exposition sums them (see ``api.observability`` and
``workers.observability``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from prometheus_client import Counter, Histogram

OTHER: Final = "other"

REQUEST_OUTCOMES: Final = frozenset({"accepted", "rejected", "unavailable"})
REJECT_REASONS: Final = frozenset(
    {
        "invalid_request",
        "username_or_email_required",
        "invalid_client",
        "rate_limited",
        "not_configured",
        "none",
    }
)
GRANT_TYPES: Final = frozenset({"password", "refresh_token", "client_credentials"})
GRANT_OUTCOMES: Final = frozenset(
    {"granted", "invalid_grant", "invalid_client", "locked_out", "invalid_request"}
)
CREDENTIALS: Final = frozenset({"password", "otp", "none"})
DROP_REASONS: Final = frozenset({"throttled", "mismatch", "no_sender"})
CHANNELS: Final = frozenset({"webhook", "email", "console"})
DELIVERY_OUTCOMES: Final = frozenset({"delivered", "retried", "failed", "expired", "skipped"})

OTP_REQUESTS = Counter(
    "otp_requests",
    "OTP requests answered by the api, by outcome; rejected ones by reason.",
    ["outcome", "reason"],
)
TOKEN_GRANTS = Counter(
    "otp_token_grants",
    "Token requests by grant type and outcome; granted ones by the credential that matched.",
    ["grant_type", "outcome", "credential"],
)
LOCKOUTS = Counter("otp_lockouts", "Accounts locked after too many failed attempts.")
OTPS_ISSUED = Counter(
    "otp_passwords_issued", "One-time passwords issued (one per matching username)."
)
REQUESTS_DROPPED = Counter(
    "otp_requests_dropped",
    "Accepted OTP requests (or one username of one) the fan-out issued nothing for, by reason.",
    ["reason"],
)
DELIVERIES = Counter(
    "otp_deliveries",
    "Delivery attempts by channel and outcome.",
    ["channel", "outcome"],
)
REQUEST_TO_DELIVERY = Histogram(
    "otp_request_to_delivery_seconds",
    "Seconds from the fan-out issuing an OTP (its delivery row) to the message being"
    " delivered (the wait on otp.requests before the fan-out is not included).",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)


def closed(value: str | None, allowed: frozenset[str]) -> str:
    """``value`` when it is one of ``allowed``, otherwise ``other``."""
    return value if value in allowed else OTHER


def record_otp_request(outcome: str, reason: str | None = None) -> None:
    """The api answered an OTP request: ``accepted``, ``rejected`` (with a reason) or
    ``unavailable`` (broker down, 503)."""
    _otp_requests_series(outcome, reason).inc()


@lru_cache(maxsize=64)
def _otp_requests_series(outcome: str, reason: str | None) -> Counter:
    """The series of one outcome and reason, looked up once (a hot path of the api)."""
    return OTP_REQUESTS.labels(
        closed(outcome, REQUEST_OUTCOMES),
        closed(reason or "none", REJECT_REASONS),
    )


def record_token_grant(grant_type: str, outcome: str, credential: str = "none") -> None:
    """The token handler answered: e.g. ``("password", "granted", "otp")``."""
    TOKEN_GRANTS.labels(
        closed(grant_type, GRANT_TYPES),
        closed(outcome, GRANT_OUTCOMES),
        closed(credential, CREDENTIALS),
    ).inc()


def record_lockout() -> None:
    LOCKOUTS.inc()


def record_otps_issued(count: int = 1) -> None:
    if count > 0:
        OTPS_ISSUED.inc(count)


def record_request_dropped(reason: str, count: int = 1) -> None:
    """The fan-out issued nothing: for a whole request no user matched (``mismatch``), or
    for ``count`` matching users the throttle held (``throttled``) or no sender reaches
    them (``no_sender``)."""
    if count > 0:
        REQUESTS_DROPPED.labels(closed(reason, DROP_REASONS)).inc(count)


def record_delivery(channel: str, outcome: str, seconds_since_request: float | None = None) -> None:
    """A delivery attempt ended; a ``delivered`` one with its request-to-delivery latency."""
    channel_label = closed(channel, CHANNELS)
    DELIVERIES.labels(channel_label, closed(outcome, DELIVERY_OUTCOMES)).inc()
    if outcome == "delivered" and seconds_since_request is not None:
        REQUEST_TO_DELIVERY.labels(channel_label).observe(max(seconds_since_request, 0.0))
