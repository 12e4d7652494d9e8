"""Signing in with a one-time password (ARCHITECTURE.md invariant 5).

What the user typed is hashed with the user and client it was requested for, so an OTP
issued for client A never matches on client B. Consuming it is one conditional UPDATE:
of any number of concurrent requests with the same OTP exactly one gets the row back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.codes import lookup_hash
from core.models import OneTimePassword


def consume_otp(
    session: Session,
    secret_key: bytes,
    *,
    user_id: str,
    client_id: str,
    candidate: str,
    now: datetime,
) -> str | None:
    """Mark the matching unused, unexpired OTP used; the ``request_id`` of the OTP request
    that issued it when this call consumed one (the flow's correlation id), else ``None``."""
    digest = lookup_hash(secret_key, user_id=user_id, client_id=client_id, code=candidate)
    consumed = session.execute(
        update(OneTimePassword)
        .where(
            OneTimePassword.lookup_hash == digest,
            OneTimePassword.user_id == user_id,
            OneTimePassword.client_id == client_id,
            OneTimePassword.used_at.is_(None),
            OneTimePassword.expires_at > now,
        )
        .values(used_at=now)
        .returning(OneTimePassword.request_id)
        .execution_options(synchronize_session=False)
    ).first()
    return None if consumed is None else str(consumed[0])


def consume_outstanding_otps(
    session: Session, *, user_id: str, client_id: str, now: datetime
) -> int:
    """After an OTP login, the user's other OTPs for that client stop working."""
    result = session.execute(
        update(OneTimePassword)
        .where(
            OneTimePassword.user_id == user_id,
            OneTimePassword.client_id == client_id,
            OneTimePassword.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def void_outstanding_otps(session: Session, *, user_id: str, now: datetime) -> int:
    """After too many failed attempts, none of the user's outstanding OTPs work any more."""
    result = session.execute(
        update(OneTimePassword)
        .where(OneTimePassword.user_id == user_id, OneTimePassword.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
