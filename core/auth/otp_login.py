"""Signing in with a one-time password (invariant 5 in docs/architecture.md).

What the user typed is hashed with the user and client it was requested for, so an OTP
issued for client A never matches on client B. Consuming it is one conditional UPDATE
that also uses up the user's other outstanding OTPs for that client, and only when the
typed one matches an unused, unexpired row: of any number of concurrent requests with the
same OTP exactly one gets the matching row back. The callers hold the user's row lock
(:func:`core.auth.lockout.record_successful_login`), so they run one after the other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BindParameter, Connection, and_, bindparam, exists, select, update
from sqlalchemy.orm import aliased

from core.models import OneTimePassword
from core.models.base import UTCDateTime
from core.otp.codes import lookup_hash

_NOW = bindparam("now", type_=UTCDateTime())
_DIGEST: BindParameter[bytes] = bindparam("digest")
_SUBJECT: BindParameter[str] = bindparam("subject_id")
_CLIENT: BindParameter[str] = bindparam("for_client")

_Match = aliased(OneTimePassword)
_CONSUME = (
    update(OneTimePassword)
    .where(
        OneTimePassword.user_id == _SUBJECT,
        OneTimePassword.client_id == _CLIENT,
        OneTimePassword.used_at.is_(None),
        exists(
            select(_Match.id).where(
                _Match.lookup_hash == _DIGEST,
                _Match.user_id == _SUBJECT,
                _Match.client_id == _CLIENT,
                _Match.used_at.is_(None),
                _Match.expires_at > _NOW,
            )
        ),
    )
    .values(used_at=_NOW)
    .returning(
        OneTimePassword.request_id,
        and_(OneTimePassword.lookup_hash == _DIGEST, OneTimePassword.expires_at > _NOW),
    )
)
_VOID = (
    update(OneTimePassword)
    .where(OneTimePassword.user_id == _SUBJECT, OneTimePassword.used_at.is_(None))
    .values(used_at=_NOW)
)


def consume_otp(
    connection: Connection,
    secret_key: bytes,
    *,
    user_id: str,
    client_id: str,
    candidate: str,
    now: datetime,
) -> str | None:
    """When ``candidate`` matches an unused, unexpired OTP, mark it and the user's other
    outstanding OTPs for the client used; the ``request_id`` of the OTP request that issued
    the matching one (the flow's correlation id), else ``None`` and nothing changed."""
    digest = lookup_hash(secret_key, user_id=user_id, client_id=client_id, code=candidate)
    rows = connection.execute(
        _CONSUME, {"digest": digest, "subject_id": user_id, "for_client": client_id, "now": now}
    ).all()
    return next((str(request_id) for request_id, matched in rows if matched), None)


def void_outstanding_otps(connection: Connection, *, user_id: str, now: datetime) -> int:
    """After too many failed attempts, none of the user's outstanding OTPs work any more."""
    result = connection.execute(_VOID, {"subject_id": user_id, "now": now})
    return int(result.rowcount)
