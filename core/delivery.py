"""Delivering one OTP message through one sender target, for any channel.

The channel (webhook, email, console) only sends; this module does the rest the same way
for all of them: it locks the delivery row, skips rows that are no longer pending, marks
expired OTPs ``expired`` without an attempt, derives the code, renders the message, and
records the outcome (never the code, never a key, never a receiver's answer body).
A transient failure is retried with exponential backoff and jitter, honouring
``Retry-After``, but never scheduled past the OTP's expiry (invariant 8).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.codes import derive_code
from core.db import transaction
from core.locales import recipient_locale
from core.models import (
    DELIVERED,
    EXPIRED,
    FAILED,
    PENDING,
    ApiClient,
    Delivery,
    DeliveryConfig,
    MessageSender,
    OneTimePassword,
    User,
)
from core.settings import Settings
from core.targets import target_settings
from core.templates import (
    OTP_TEMPLATE_FOLDER,
    MessageRenderer,
    RenderedMessage,
    TemplateRenderError,
)

SKIPPED = "skipped"
RETRY = "retry"
_MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class OtpMessage:
    """Everything a channel needs to send one OTP; holds the code, so it is never logged."""

    delivery_id: str
    request_id: str
    target: str
    target_settings: dict[str, Any]
    sender: MessageSender
    user: User
    client_id: str
    code: str
    expires_at: datetime
    message: RenderedMessage
    environment: str

    def __repr__(self) -> str:  # keeps the code out of tracebacks and debug output
        return f"OtpMessage(delivery_id={self.delivery_id!r}, target={self.target!r})"


@dataclass(frozen=True)
class AttemptResult:
    """What one send attempt came to, as a channel reports it."""

    succeeded: bool
    retryable: bool = False
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from the receiver's Retry-After

    @classmethod
    def sent(cls, status_code: int | None = None) -> AttemptResult:
        return cls(succeeded=True, status_code=status_code)

    @classmethod
    def permanent(cls, error: str, status_code: int | None = None) -> AttemptResult:
        return cls(succeeded=False, status_code=status_code, error=error)

    @classmethod
    def transient(
        cls, error: str, status_code: int | None = None, retry_after: float | None = None
    ) -> AttemptResult:
        return cls(
            succeeded=False,
            retryable=True,
            status_code=status_code,
            error=error,
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class DeliveryOutcome:
    """``status`` is the row's new status, ``skipped``, or ``retry`` after ``retry_in_ms``.

    ``seconds_since_issued``: for a ``delivered`` one, the time from the fan-out creating
    the delivery row (it issued the OTP) to the receiver's accepting answer.
    """

    status: str
    retry_in_ms: int | None = None
    seconds_since_issued: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: 1 s, 2 s, 4 s ... up to a minute, each times 1 to 1.5 (jitter)."""

    min_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000

    def delay_ms(self, attempts: int, retry_after: float | None = None) -> int:
        """The wait before attempt ``attempts + 1``; at least the receiver's Retry-After."""
        base = min(self.max_backoff_ms, self.min_backoff_ms * 2 ** max(attempts - 1, 0))
        jittered = int(base * random.uniform(1.0, 1.5))  # noqa: S311 - jitter spreads load; it guards no secret
        if retry_after is not None:
            jittered = max(jittered, math.ceil(retry_after * 1000))
        return jittered


Send = Callable[[OtpMessage], AttemptResult]


def deliver_otp(
    sessions: sessionmaker[Session],
    delivery_id: str,
    *,
    send: Send,
    settings: Settings,
    clock: Clock,
    renderer: MessageRenderer,
    retry_policy: RetryPolicy,
) -> DeliveryOutcome:
    """Make one attempt at a delivery and record what happened."""
    with transaction(sessions) as session:
        # SKIP LOCKED: a duplicate message for a row another worker is sending right now
        # does nothing; that worker records the outcome.
        query = select(Delivery).where(Delivery.id == delivery_id)
        delivery = session.scalars(query.with_for_update(skip_locked=True)).first()
        if delivery is None or delivery.status != PENDING:
            return DeliveryOutcome(SKIPPED)
        now = clock.now()
        otp = session.get(OneTimePassword, delivery.otp_id) if delivery.otp_id else None
        if otp is None or otp.expires_at <= now:
            return _finish(delivery, EXPIRED, now, error="the OTP expired before delivery")
        if otp.used_at is not None:
            return _finish(delivery, EXPIRED, now, error="the OTP was used before delivery")
        prepared = _prepare(
            session, delivery=delivery, otp=otp, settings=settings, now=now, renderer=renderer
        )
        if isinstance(prepared, str):
            return _finish(delivery, FAILED, now, error=prepared)
        result = send(prepared)
        return _record(delivery, otp, result, clock.now(), retry_policy)


def _prepare(
    session: Session,
    *,
    delivery: Delivery,
    otp: OneTimePassword,
    settings: Settings,
    now: datetime,
    renderer: MessageRenderer,
) -> OtpMessage | str:
    """The message to send, or why it cannot be sent any more."""
    user = session.get(User, delivery.user_id)
    sender = session.get(MessageSender, delivery.sender_id)
    if user is None or sender is None:
        return "the user or the message sender no longer exists"
    config = (
        session.get(DeliveryConfig, sender.delivery_config_id)
        if sender.delivery_config_id
        else None
    )
    where = target_settings(sender, config, delivery.target)
    if where is None:
        return f"the sender's {delivery.target} target is no longer configured or enabled"
    settings.require("secret_key")
    assert settings.secret_key is not None
    code = derive_code(settings.secret_key, otp.nonce, settings.otp_length)
    client = session.get(ApiClient, delivery.client_id)
    context = otp_template_context(
        user=user,
        client_id=delivery.client_id,
        app_name=client.app_name if client is not None else "",
        code=code,
        expires_at=otp.expires_at,
        now=now,
        environment=settings.environment,
    )
    try:
        message = renderer.render(
            OTP_TEMPLATE_FOLDER,
            context,
            sender.template_overrides,
            locale=recipient_locale(user.xp),
        )
    except TemplateRenderError as error:
        return f"template error in {error}"
    return OtpMessage(
        delivery_id=delivery.id,
        request_id=delivery.request_id,
        target=delivery.target,
        target_settings=where,
        sender=sender,
        user=user,
        client_id=delivery.client_id,
        code=code,
        expires_at=otp.expires_at,
        message=message,
        environment=settings.environment,
    )


def otp_template_context(
    *,
    user: User,
    client_id: str,
    app_name: str,
    code: str,
    expires_at: datetime,
    now: datetime,
    environment: str,
) -> dict[str, object]:
    """The variables the one_time_password templates (and overrides) may use."""
    remaining = max(expires_at - now, timedelta(0))
    return {
        "code": code,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "client_id": client_id,
        "app_name": app_name,
        "expires_at": iso_utc(expires_at),
        "expires_in_minutes": max(1, math.ceil(remaining.total_seconds() / 60)),
        "environment": environment,
    }


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second: ``2025-05-12T10:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record(
    delivery: Delivery,
    otp: OneTimePassword,
    result: AttemptResult,
    now: datetime,
    policy: RetryPolicy,
) -> DeliveryOutcome:
    delivery.attempts += 1
    delivery.last_status_code = result.status_code
    if result.succeeded:
        delivery.delivered_at = now
        _finish(delivery, DELIVERED, now, error=None)
        return DeliveryOutcome(
            DELIVERED, seconds_since_issued=(now - delivery.created_at).total_seconds()
        )
    error = (result.error or "failed")[:_MAX_ERROR_LENGTH]
    if not result.retryable:
        return _finish(delivery, FAILED, now, error=error)
    delay = policy.delay_ms(delivery.attempts, result.retry_after)
    if now + timedelta(milliseconds=delay) >= otp.expires_at:
        return _finish(delivery, EXPIRED, now, error=f"{error}; the OTP expires before a retry")
    delivery.last_error = error
    delivery.updated_at = now
    return DeliveryOutcome(RETRY, retry_in_ms=delay)


def _finish(
    delivery: Delivery, status: str, now: datetime, *, error: str | None
) -> DeliveryOutcome:
    delivery.status = status
    delivery.last_error = error
    delivery.updated_at = now
    return DeliveryOutcome(status)
