"""Delivering one OTP message through one sender target, for any channel.

The channel (webhook, email, console) only sends; this module does the rest the same way
for all of them: it locks the delivery row, skips rows that are no longer pending, marks
expired OTPs ``expired`` without an attempt, derives the code, renders the message, and
records the outcome (never the code, never a key, never a receiver's answer body).
A transient failure is retried with exponential backoff and jitter, honouring
``Retry-After``, but never scheduled past the OTP's expiry (invariant 8 in docs/architecture.md).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine, bindparam, update

from core.delivery.attempts import AttemptResult, AttemptStatus, Channel, OtpMessage
from core.delivery.context import (
    DeliveryContext,
    DeliveryRecord,
    OtpRecord,
    Recipient,
    lock_delivery,
)
from core.delivery.locales import recipient_locale
from core.delivery.targets import target_settings
from core.delivery.templates import (
    OTP_TEMPLATE_FOLDER,
    MessageRenderer,
    TemplateRenderError,
)
from core.models import DELIVERED, EXPIRED, FAILED, PENDING, Base, Delivery
from core.models.secrets import SECRET_FIELDS
from core.otp.codes import derive_code
from core.platform.clock import Clock, iso_utc
from core.platform.secret_box import NO_KEY_OPENS_IT, is_sealed
from core.platform.settings import Settings

_MAX_ERROR_LENGTH = 500


class OutcomeStatus(StrEnum):
    """What became of a delivery message: the row's new status, or why it is not final."""

    DELIVERED = DELIVERED
    FAILED = FAILED
    EXPIRED = EXPIRED
    RETRY = "retry"  # still pending: the actor retries after ``retry_in_ms``
    SKIPPED = "skipped"  # not pending any more (or locked by a worker sending it right now)


@dataclass(frozen=True)
class DeliveryOutcome:
    """``status`` is the row's new status, ``skipped``, or ``retry`` after ``retry_in_ms``.

    ``seconds_since_issued``: for a ``delivered`` one, the time from the fan-out creating
    the delivery row (it issued the OTP) to the receiver's accepting answer.
    """

    status: OutcomeStatus
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


def deliver_otp(
    database: Engine,
    delivery_id: str,
    *,
    channel: Channel,
    settings: Settings,
    clock: Clock,
    renderer: MessageRenderer,
    retry_policy: RetryPolicy,
) -> DeliveryOutcome:
    """Make one attempt at a delivery through ``channel`` and record what happened.

    Two statements: the locked row with its context, then its outcome.
    """
    # A connection, not an ORM session: every statement on this path is Core.
    with database.begin() as connection:
        loaded = lock_delivery(connection, delivery_id)
        if loaded is None or loaded.delivery.status != PENDING:
            return DeliveryOutcome(OutcomeStatus.SKIPPED)
        row = _LockedRow(connection, loaded.delivery)
        otp = loaded.otp
        now = clock.now()
        if otp is None or otp.expires_at <= now:
            return row.finish(OutcomeStatus.EXPIRED, now, error="the OTP expired before delivery")
        if otp.used_at is not None:
            return row.finish(OutcomeStatus.EXPIRED, now, error="the OTP was used before delivery")
        prepared = _prepare(loaded, otp, settings=settings, now=now, renderer=renderer)
        if isinstance(prepared, str):
            return row.finish(OutcomeStatus.FAILED, now, error=prepared)
        result = channel.send(prepared)
        return _record(row, otp, result, clock.now(), retry_policy)


# An attempt's outcome, in one UPDATE of the locked row. The SET clause comes from the
# parameters' column names.
_SAVE_OUTCOME = update(Base.metadata.tables[Delivery.__tablename__]).where(
    Delivery.id == bindparam("delivery_id")
)


@dataclass(frozen=True)
class _LockedRow:
    """The delivery row this transaction locked, and how its outcome is written."""

    connection: Connection
    delivery: DeliveryRecord

    def finish(
        self,
        status: OutcomeStatus,
        now: datetime,
        *,
        error: str | None,
        attempt: AttemptResult | None = None,
    ) -> DeliveryOutcome:
        self.save(status, now, error=error, attempt=attempt)
        return DeliveryOutcome(status)

    def save(
        self,
        status: str,
        now: datetime,
        *,
        error: str | None,
        attempt: AttemptResult | None = None,
    ) -> None:
        """The new status and error; an ``attempt`` also counts and leaves its status code."""
        delivery = self.delivery
        parameters = {
            "delivery_id": delivery.id,
            "status": str(status),  # a plain string for the driver, not the enum
            "attempts": delivery.attempts + (attempt is not None),
            "last_error": error,
            "last_status_code": (
                attempt.status_code if attempt is not None else delivery.last_status_code
            ),
            "delivered_at": now if status == DELIVERED else None,
            "updated_at": now,
        }
        self.connection.execute(_SAVE_OUTCOME, parameters)


def _prepare(
    loaded: DeliveryContext,
    otp: OtpRecord,
    *,
    settings: Settings,
    now: datetime,
    renderer: MessageRenderer,
) -> OtpMessage | str:
    """The message to send, or why it cannot be sent any more."""
    delivery, user, sender = loaded.delivery, loaded.user, loaded.sender
    if user is None or sender is None:
        return "the user or the message sender no longer exists"
    where = target_settings(sender, loaded.config, delivery.target)
    if where is None:
        return f"the sender's {delivery.target} target is no longer configured or enabled"
    secrets = (where.get(field) for field in SECRET_FIELDS)
    if any(isinstance(secret, str) and is_sealed(secret) for secret in secrets):
        # Sealed under a key no longer configured: no retry can send it.
        return NO_KEY_OPENS_IT
    settings.require("secret_key")
    assert settings.secret_key is not None
    code = derive_code(settings.secret_key, otp.nonce, settings.otp_length)
    context = otp_template_context(
        user=user,
        client_id=delivery.client_id,
        app_name=loaded.app_name,
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
    user: Recipient,
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


def _record(
    row: _LockedRow,
    otp: OtpRecord,
    result: AttemptResult,
    now: datetime,
    policy: RetryPolicy,
) -> DeliveryOutcome:
    if result.status is AttemptStatus.DELIVERED:
        row.save(DELIVERED, now, error=None, attempt=result)
        return DeliveryOutcome(
            OutcomeStatus.DELIVERED,
            seconds_since_issued=(now - row.delivery.created_at).total_seconds(),
        )
    error = (result.error or "failed")[:_MAX_ERROR_LENGTH]
    if result.status is AttemptStatus.FAILED:
        return row.finish(OutcomeStatus.FAILED, now, error=error, attempt=result)
    delay = policy.delay_ms(row.delivery.attempts + 1, result.retry_after)
    if now + timedelta(milliseconds=delay) >= otp.expires_at:
        return row.finish(
            OutcomeStatus.EXPIRED,
            now,
            error=f"{error}; the OTP expires before a retry",
            attempt=result,
        )
    row.save(PENDING, now, error=error, attempt=result)
    return DeliveryOutcome(OutcomeStatus.RETRY, retry_in_ms=delay)
