"""Opaque refresh tokens: stored only as a keyed hash, single use, rotated on every use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, update

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
    .returning(RefreshToken.user_id, RefreshToken.roles)
)


def refresh_token_hash(secret_key: bytes, token: str) -> bytes:
    return hmac.new(secret_key, _LABEL + token.encode(), hashlib.sha256).digest()


def issue_refresh_token(
    connection: Connection,
    secret_key: bytes,
    *,
    user_id: str,
    client_id: str,
    roles: list[str],
    now: datetime,
    lifetime: timedelta,
) -> str:
    """A new random token; only its keyed hash is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    connection.execute(
        _INSERT,
        {
            "id": new_uuid(),
            "token_hash": refresh_token_hash(secret_key, token),
            "user_id": user_id,
            "client_id": client_id,
            "roles": roles,
            "created_at": now,
            "expires_at": now + lifetime,
        },
    )
    return token


@dataclass(frozen=True)
class RedeemedRefreshToken:
    user_id: str
    roles: list[str]


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
    return RedeemedRefreshToken(user_id=row[0], roles=[str(role) for role in row[1] or []])
