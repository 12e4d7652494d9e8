"""Opaque refresh tokens: stored only as a keyed hash, single use, rotated on every use.

Each token belongs to a family: the first token a sign-in issues and every token rotated
from it. Presenting a token that was already used ends its whole family (RFC 9700
section 4.14): one of the two holders is not the legitimate client. Revoking a user's
sessions ends all of their tokens (:func:`end_user_refresh_tokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select, update

from core.models import RefreshToken
from core.models.base import UTCDateTime
from core.platform.ids import new_uuid

_LABEL = b"refresh-token\x00"
TOKEN_BYTES = 32

_INSERT = insert(RefreshToken)
_NOW = bindparam("now", type_=UTCDateTime())
_REDEEM = (
    update(RefreshToken)
    .where(
        RefreshToken.token_hash == bindparam("digest"),
        RefreshToken.client_id == bindparam("for_client"),
        RefreshToken.used_at.is_(None),
        RefreshToken.expires_at > _NOW,
    )
    .values(used_at=_NOW)
    .returning(
        RefreshToken.user_id,
        RefreshToken.roles,
        func.coalesce(RefreshToken.family_id, RefreshToken.id),
    )
)
_FAMILY_OF_USED = (
    select(func.coalesce(RefreshToken.family_id, RefreshToken.id))
    .where(
        RefreshToken.token_hash == bindparam("digest"),
        RefreshToken.client_id == bindparam("for_client"),
        RefreshToken.used_at.is_not(None),
    )
    .scalar_subquery()
)
_END_FAMILY = (
    update(RefreshToken)
    .where(
        func.coalesce(RefreshToken.family_id, RefreshToken.id) == _FAMILY_OF_USED,
        RefreshToken.used_at.is_(None),
    )
    .values(used_at=_NOW)
)
_END_USER_TOKENS = (
    update(RefreshToken)
    .where(RefreshToken.user_id == bindparam("subject_id"), RefreshToken.used_at.is_(None))
    .values(used_at=_NOW)
)


def refresh_token_hash(secret_key: bytes, token: str) -> bytes:
    return hmac.new(secret_key, _LABEL + token.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class NewRefreshToken:
    """A refresh token about to be stored: the token for the client, the row for the table."""

    token: str
    row: dict[str, object]


def new_refresh_token(
    secret_key: bytes,
    *,
    user_id: str,
    client_id: str,
    roles: list[str],
    now: datetime,
    lifetime: timedelta,
    family_id: str | None = None,
) -> NewRefreshToken:
    """A new random token (of ``family_id``, or the first of a new family) and the row that
    stores only its keyed hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    token_id = new_uuid()
    row: dict[str, object] = {
        "id": token_id,
        "family_id": family_id or token_id,
        "token_hash": refresh_token_hash(secret_key, token),
        "user_id": user_id,
        "client_id": client_id,
        "roles": roles,
        "created_at": now,
        "expires_at": now + lifetime,
    }
    return NewRefreshToken(token, row)


def store_refresh_token(connection: Connection, issued: NewRefreshToken) -> None:
    connection.execute(_INSERT, issued.row)


@dataclass(frozen=True)
class RedeemedRefreshToken:
    user_id: str
    roles: list[str]
    family_id: str


def redeem_refresh_token(
    connection: Connection, secret_key: bytes, *, client_id: str, token: str, now: datetime
) -> RedeemedRefreshToken | None:
    """Use the token up in one conditional UPDATE; ``None`` if unknown, expired or used."""
    digest = refresh_token_hash(secret_key, token)
    row = connection.execute(
        _REDEEM, {"digest": digest, "for_client": client_id, "now": now}
    ).first()
    if row is None:
        return None
    return RedeemedRefreshToken(
        user_id=row[0], roles=[str(role) for role in row[1] or []], family_id=str(row[2])
    )


def end_family_of_replayed_token(
    connection: Connection, secret_key: bytes, *, client_id: str, token: str, now: datetime
) -> int:
    """When ``token`` is a used one, use up every outstanding token of its family; the
    number ended (0 for an unknown or merely expired token)."""
    digest = refresh_token_hash(secret_key, token)
    result = connection.execute(
        _END_FAMILY, {"digest": digest, "for_client": client_id, "now": now}
    )
    return int(result.rowcount)


def end_user_refresh_tokens(connection: Connection, user_id: str, now: datetime) -> int:
    """Use up every outstanding refresh token of the user (their sessions are revoked)."""
    result = connection.execute(_END_USER_TOKENS, {"subject_id": user_id, "now": now})
    return int(result.rowcount)
