"""``POST /v1/password/onetimepassword``: public, no auth, always the same 204 when accepted.

Thin: rate-limit by client IP, parse the body, hand it to :class:`core.intake.OtpIntake`.
No response header varies with the request (no request id is returned): the answer must
not differ whether zero, one or many users match, and the client has no use for the id.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field

from api.openapi import Operation, document
from api.runtime import current_runtime
from api.wire import parse_json_object
from core.intake import OtpIntake, OtpRequestInput
from core.ip_rate_limit import IpRateLimiter
from core.publisher import DramatiqEventPublisher

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
    services = otp_request_services()
    client_ip = request.remote_addr or "unknown"
    services.rate_limiter.check(client_ip)
    body = parse_json_object(OneTimePasswordRequest)
    request_id = services.intake.request_otp(
        OtpRequestInput(
            client_id=body.ClientID,
            username=body.Username,
            email=body.Email,
            client_ip=request.remote_addr,
        )
    )
    log.info("otp request %s accepted", request_id)
    accepted = Response(status=204)
    del accepted.headers["Content-Type"]  # a 204 has no body to describe
    return accepted


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
                    intake=OtpIntake(runtime.sessions, publisher, runtime.clock),
                    rate_limiter=IpRateLimiter(runtime.settings.ip_rate_limit, runtime.clock),
                )
                current_app.extensions[_SERVICES_KEY] = services
    assert isinstance(services, OtpRequestServices)
    return services
