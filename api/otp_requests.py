"""``POST /v1/password/onetimepassword``: public, no auth, always the same 204 when accepted.

Thin: rate-limit by client IP, parse the body, hand it to :class:`core.otp.intake.OtpIntake`.
No response header varies with the request (no request id is returned): the answer must
not differ whether zero, one or many users match, and the client has no use for the id.

The event's ``request_id`` is this request's correlation id (``api.observability`` made
it; it is never the caller's ``X-Request-Id``), so the api's lines, the workers' lines, the
OTP row, the webhook's ``OcLogIdHeader`` and the token handler's OTP-login line share it.
Every answer is counted in ``otp_requests_total`` by outcome and reason.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from api.openapi import Operation, document
from api.runtime import current_runtime
from api.wire import parse_json_object
from core.messaging.publisher import DramatiqEventPublisher
from core.otp.intake import OtpIntake, OtpRequestInput
from core.otp.ip_rate_limit import IpRateLimiter
from core.platform.correlation import current_correlation_id
from core.platform.errors import (
    DomainError,
    InvalidClient,
    OtpNotConfigured,
    ServiceUnavailable,
    TooManyRequests,
    UsernameOrEmailRequired,
)
from core.platform.metrics import record_otp_request

log = logging.getLogger(__name__)

otp_requests = Blueprint("otp_requests", __name__)

_SERVICES_KEY = "otp_request_services"
_services_lock = threading.Lock()


class OneTimePasswordRequest(BaseModel):
    """OrderCloud's OneTimePasswordRequest resource. Unknown fields are ignored."""

    # strict: a number is not silently taken for a string.
    model_config = ConfigDict(extra="ignore", strict=True)

    ClientID: str | None = Field(default=None, max_length=255)
    Username: str | None = Field(default=None, max_length=255)
    Email: str | None = Field(default=None, max_length=255)


document(
    otp_requests,
    Operation(
        path="/v1/password/onetimepassword",
        method="post",
        summary="Request a one-time password by Username and/or Email",
        description=(
            "204 whether zero, one or many users match (no enumeration). 400 ErrorCodes: "
            "InvalidRequest, OneTimePasswordRequest.UsernameOrEmailRequired, "
            "ApiClient.InvalidClientID, OneTimePasswordRequest.NotConfigured."
        ),
        tag="OneTimePasswords",
        request_model=OneTimePasswordRequest,
        responses={204: None},
        errors=(400, 429, 503),
        secured=False,
    ),
)


@dataclass(frozen=True)
class OtpRequestServices:
    intake: OtpIntake
    rate_limiter: IpRateLimiter


@otp_requests.post("/v1/password/onetimepassword")
def request_one_time_password() -> Response:
    try:
        request_id = _accept_otp_request()
    except Exception as error:
        record_otp_request(*refusal_labels(error))
        raise
    record_otp_request("accepted")
    log.info("otp request %s accepted", request_id, extra={"request_id": request_id})
    accepted = Response(status=204)
    del accepted.headers["Content-Type"]  # a 204 has no body to describe
    return accepted


def _accept_otp_request() -> str:
    services = otp_request_services()
    client_ip = request.remote_addr or "unknown"
    services.rate_limiter.check(client_ip)
    body = parse_json_object(OneTimePasswordRequest)
    return services.intake.request_otp(
        OtpRequestInput(
            client_id=body.ClientID,
            username=body.Username,
            email=body.Email,
            client_ip=request.remote_addr,
            request_id=current_correlation_id(),
        )
    )


# The refusals of this endpoint and their reason label, most specific first.
_REJECTION_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (TooManyRequests, "rate_limited"),
    (InvalidClient, "invalid_client"),
    (OtpNotConfigured, "not_configured"),
    (UsernameOrEmailRequired, "username_or_email_required"),
    (DomainError, "invalid_request"),
)


def refusal_labels(error: BaseException) -> tuple[str, str | None]:
    """``(outcome, reason)`` of ``otp_requests_total`` for a request that was not accepted."""
    if isinstance(error, ServiceUnavailable):
        return "unavailable", None
    for kind, reason in _REJECTION_REASONS:
        if isinstance(error, kind):
            return "rejected", reason
    if isinstance(error, HTTPException) and (error.code or 500) < 500:
        return "rejected", "invalid_request"  # e.g. 413, 415 from werkzeug
    return "failed", None  # an unexpected error (a 500): counted as outcome "other"


def otp_request_services() -> OtpRequestServices:
    """This app's intake and rate limiter, built on first use (nothing connects earlier)."""
    services = current_app.extensions.get(_SERVICES_KEY)
    if services is None:
        with _services_lock:
            services = current_app.extensions.get(_SERVICES_KEY)
            if services is None:
                runtime = current_runtime()
                publisher = DramatiqEventPublisher(runtime.broker, clock=runtime.clock)
                services = OtpRequestServices(
                    intake=OtpIntake(
                        runtime.sessions,
                        publisher,
                        runtime.clock,
                        dev_mode=runtime.settings.dev_mode,
                    ),
                    rate_limiter=IpRateLimiter(runtime.settings.ip_rate_limit, runtime.clock),
                )
                current_app.extensions[_SERVICES_KEY] = services
    assert isinstance(services, OtpRequestServices)
    return services
