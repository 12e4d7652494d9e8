"""Signing in with a one-time password (invariant 5 in docs/architecture.md).

What the user typed is hashed with the user and client it was requested for, so an OTP
issued for client A never matches on client B. Consuming it is one conditional UPDATE
that also uses up the user's other outstanding OTPs for that client, and only when the
typed one matches an unused, unexpired row: of any number of concurrent requests with the
same OTP exactly one gets the matching row back. The callers hold the user's row lock
(:func:`core.auth.lockout.record_successful_login`), so they run one after the other.

On PostgreSQL a sign-in is one statement (:func:`sign_in_with_otp`): it takes the user's
row lock, consumes, resets the failure counter and writes the audit row (and a refresh
token) only when the OTP matched, atomically, in one round trip instead of a transaction
of five. SQLite (``otp dev``) has no data-modifying CTEs; there the caller runs
:func:`consume_otp` inside its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.orm import aliased

from core.auth.lockout import SIGNED_IN, UNLOCKED
from core.models import AuthEvent, OneTimePassword, RefreshToken, User
from core.models.base import Base, UTCDateTime
from core.otp.codes import lookup_hash

# The dialects whose data-modifying CTEs let one statement do a whole OTP sign-in.
ONE_STATEMENT_DIALECTS = frozenset({"postgresql"})

_NOW = bindparam("now", type_=UTCDateTime())
_DIGEST: BindParameter[bytes] = bindparam("digest")
_SUBJECT: BindParameter[str] = bindparam("subject_id")
_CLIENT: BindParameter[str] = bindparam("for_client")

_Match = aliased(OneTimePassword)
_MATCHES = exists(
    select(_Match.id).where(
        _Match.lookup_hash == _DIGEST,
        _Match.user_id == _SUBJECT,
        _Match.client_id == _CLIENT,
        _Match.used_at.is_(None),
        _Match.expires_at > _NOW,
    )
)
_CONSUME = (
    update(OneTimePassword)
    .where(
        OneTimePassword.user_id == _SUBJECT,
        OneTimePassword.client_id == _CLIENT,
        OneTimePassword.used_at.is_(None),
        _MATCHES,
    )
    .values(used_at=_NOW)
    .returning(
        OneTimePassword.request_id,
        and_(OneTimePassword.lookup_hash == _DIGEST, OneTimePassword.expires_at > _NOW).label(
            "matched"
        ),
    )
)


def _insert_one_when(
    condition: ColumnElement[bool], model: type[Base], prefix: str, *, leave_out: tuple[str, ...]
) -> Any:
    """``INSERT INTO table (...) SELECT :prefix<column>, ... WHERE condition`` over the
    columns of ``model``'s table but ``leave_out``."""
    columns = [column for column in model.__table__.columns if column.name not in leave_out]
    row = select(*(bindparam(prefix + column.name, type_=column.type) for column in columns))
    return insert(model).from_select([column.name for column in columns], row.where(condition))


# The typed OTP's own row: every condition is on the row updated, so PostgreSQL rechecks
# all of them when the row changed while the statement waited for the user's lock.
_HIT = (
    update(OneTimePassword)
    .where(
        OneTimePassword.lookup_hash == _DIGEST,
        OneTimePassword.user_id == _SUBJECT,
        OneTimePassword.client_id == _CLIENT,
        OneTimePassword.used_at.is_(None),
        OneTimePassword.expires_at > _NOW,
    )
    .values(used_at=_NOW)
    .returning(OneTimePassword.id, OneTimePassword.request_id)
)


def _one_statement_sign_in(*, with_refresh_token: bool) -> Select[Any]:
    """Lock the user's row (unless locked out), consume the typed OTP, and only when it
    matched: use up the user's other OTPs for the client, reset the counter, audit the
    success, store the refresh token; the matching OTP's ``request_id``.

    The user's row is locked before any OTP row, as everywhere else. A concurrent use of
    the same OTP waits for that lock, then finds the row used (the UPDATE rechecks it) and
    changes nothing. OTPs issued after the statement began are not among the others.
    """
    user_row = select(User.id).where(User.id == _SUBJECT, UNLOCKED).with_for_update()
    locked = user_row.cte("locked_user")
    hit = _HIT.where(exists(select(locked.c.id))).cte("matched_otp")
    signed_in = exists(select(hit.c.id))
    others = (
        update(OneTimePassword)
        .where(
            OneTimePassword.user_id == _SUBJECT,
            OneTimePassword.client_id == _CLIENT,
            OneTimePassword.used_at.is_(None),
            OneTimePassword.id.not_in(select(hit.c.id)),
            signed_in,
        )
        .values(used_at=_NOW)
        .returning(OneTimePassword.id)
    ).cte("other_otps")
    reset = (
        update(User).where(User.id == _SUBJECT, signed_in).values(SIGNED_IN).returning(User.id)
    ).cte("reset_counter")
    audit = _insert_one_when(signed_in, AuthEvent, "event_", leave_out=("id",))
    writes = [others, reset, audit.returning(AuthEvent.id).cte("audit")]
    if with_refresh_token:
        stored = _insert_one_when(signed_in, RefreshToken, "refresh_", leave_out=("used_at",))
        writes.append(stored.returning(RefreshToken.id).cte("refresh_token"))
    return select(hit.c.request_id).limit(1).add_cte(*writes)


_SIGN_IN = _one_statement_sign_in(with_refresh_token=False)
_SIGN_IN_WITH_REFRESH_TOKEN = _one_statement_sign_in(with_refresh_token=True)
_VOID = (
    update(OneTimePassword)
    .where(OneTimePassword.user_id == _SUBJECT, OneTimePassword.used_at.is_(None))
    .values(used_at=_NOW)
)


def _attempt(
    secret_key: bytes, *, user_id: str, client_id: str, candidate: str
) -> dict[str, object]:
    """The parameters that name the typed OTP: its keyed lookup hash, the user, the client."""
    digest = lookup_hash(secret_key, user_id=user_id, client_id=client_id, code=candidate)
    return {"digest": digest, "subject_id": user_id, "for_client": client_id}


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
    parameters = _attempt(secret_key, user_id=user_id, client_id=client_id, candidate=candidate)
    rows = connection.execute(_CONSUME, {**parameters, "now": now}).all()
    return next((str(request_id) for request_id, matched in rows if matched), None)


def signs_in_in_one_statement(database: Engine) -> bool:
    """Whether :func:`sign_in_with_otp` runs on ``database``."""
    return database.dialect.name in ONE_STATEMENT_DIALECTS


def sign_in_with_otp(
    connection: Connection,
    secret_key: bytes,
    *,
    user_id: str,
    client_id: str,
    candidate: str,
    now: datetime,
    auth_event: Mapping[str, object],
    refresh_token: Mapping[str, object] | None,
) -> str | None:
    """On PostgreSQL, in one statement: when the account is not locked and ``candidate``
    matches an unused, unexpired OTP, consume it (and the user's other OTPs for the client),
    reset the failure counter, write ``auth_event`` and store ``refresh_token`` (rows as
    :func:`core.auth.audit.auth_event_row` and :func:`core.auth.refresh_tokens.new_refresh_token`
    make them); the ``request_id`` of the OTP request that issued it, else ``None`` and
    nothing changed. ``connection`` should be in autocommit: the statement is its own
    transaction."""
    parameters: dict[str, object] = {
        **_attempt(secret_key, user_id=user_id, client_id=client_id, candidate=candidate),
        "now": now,
    }
    parameters.update({f"event_{name}": value for name, value in auth_event.items()})
    statement = _SIGN_IN
    if refresh_token is not None:
        parameters.update({f"refresh_{name}": value for name, value in refresh_token.items()})
        statement = _SIGN_IN_WITH_REFRESH_TOKEN
    request_id = connection.execute(statement, parameters).scalar()
    return None if request_id is None else str(request_id)


def void_outstanding_otps(connection: Connection, *, user_id: str, now: datetime) -> int:
    """After too many failed attempts, none of the user's outstanding OTPs work any more."""
    result = connection.execute(_VOID, {"subject_id": user_id, "now": now})
    return int(result.rowcount)
