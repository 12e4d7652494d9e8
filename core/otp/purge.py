"""``otp purge``: nothing outlives its use (invariant 8 in docs/architecture.md).

Three sweeps, each in small batches with a commit per batch, so a table of millions of
rows is never held under one long lock and a concurrent token request or delivery waits
at most one batch:

1. pending deliveries whose ``expires_at`` has passed become ``expired`` (they can no
   longer deliver a usable code; delivery actors stop retrying them);
2. OTP rows whose ``expires_at`` is older than now are deleted once they are also older
   than the throttle window, because the fan-out worker counts recent rows to enforce
   ``OTP_MAX_PER_USER`` per ``OTP_THROTTLE_WINDOW``; their delivery rows stay (the FK is
   ``ON DELETE SET NULL``) for ``GET /v1/deliveries``;
3. auth events older than ``OTP_AUDIT_RETENTION`` are deleted.

Plain SQL that PostgreSQL and SQLite both run: ``... WHERE id IN (SELECT id ... LIMIT n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Delete, Update

from core.models import EXPIRED, PENDING, AuthEvent, Delivery, OneTimePassword

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class PurgeReport:
    """How many rows each sweep touched."""

    expired_deliveries: int
    deleted_one_time_passwords: int
    deleted_auth_events: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def purge_expired(
    engine: Engine,
    *,
    now: datetime,
    audit_retention: int,
    throttle_window: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PurgeReport:
    """Expire stale pending deliveries, delete expired OTPs and old auth events.

    ``audit_retention`` and ``throttle_window`` are in seconds. An OTP row is deleted when
    ``expires_at < now`` and ``created_at < now - throttle_window``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    issued_before = now - timedelta(seconds=throttle_window)
    audit_before = now - timedelta(seconds=audit_retention)
    return PurgeReport(
        expired_deliveries=_in_batches(
            engine, batch_size, lambda limit: _expire_deliveries(now, limit)
        ),
        deleted_one_time_passwords=_in_batches(
            engine, batch_size, lambda limit: _delete_otps(now, issued_before, limit)
        ),
        deleted_auth_events=_in_batches(
            engine, batch_size, lambda limit: _delete_auth_events(audit_before, limit)
        ),
    )


def _in_batches(engine: Engine, batch_size: int, batch: Callable[[int], Executable]) -> int:
    """Run ``batch(batch_size)``, one transaction each, until a batch touches fewer rows."""
    total = 0
    while True:
        with engine.begin() as connection:
            touched = connection.execute(batch(batch_size)).rowcount
        total += touched
        if touched < batch_size:
            return total


def _expire_deliveries(now: datetime, limit: int) -> Update:
    stale = (Delivery.status == PENDING, Delivery.expires_at < now)
    batch = select(Delivery.id).where(*stale).limit(limit)
    # The conditions are repeated outside the subquery: under READ COMMITTED, PostgreSQL
    # re-checks them on a row a delivery actor just marked delivered, and skips it.
    return (
        update(Delivery)
        .where(Delivery.id.in_(batch), *stale)
        .values(status=EXPIRED, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _delete_otps(now: datetime, issued_before: datetime, limit: int) -> Delete:
    done = (OneTimePassword.expires_at < now, OneTimePassword.created_at < issued_before)
    batch = select(OneTimePassword.id).where(*done).limit(limit)
    return (
        delete(OneTimePassword)
        .where(OneTimePassword.id.in_(batch), *done)
        .execution_options(synchronize_session=False)
    )


def _delete_auth_events(older_than: datetime, limit: int) -> Delete:
    batch = select(AuthEvent.id).where(AuthEvent.at < older_than).limit(limit)
    return (
        delete(AuthEvent)
        .where(AuthEvent.id.in_(batch))
        .execution_options(synchronize_session=False)
    )
