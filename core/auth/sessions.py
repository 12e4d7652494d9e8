"""Revocable sessions: an access token counts only while its user and client still do.

Every admin-API request (and ``/v1/me``) turns its verified claims into a
:class:`~core.identity.authorization.Principal` here. The user is found by id (claim
``u``), never by username, and must exist, be active, belong to an active buyer (buyer
users), and still be at the token's session generation (claim ``tv``); the client must
exist and be active. What the database says is kept per process for :data:`SESSION_TTL`
(plus the cache's refresh grace): a revocation reaches every api process within
:data:`REVOCATION_BOUND`.

Revoking a user's sessions (:func:`revoke_user_sessions`) raises their generation, so
every access token issued before fails, and uses up their refresh tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.auth.refresh_tokens import end_user_refresh_tokens
from core.auth.tokens import AccessClaims
from core.identity.authorization import Principal
from core.models import ApiClient, Buyer, User
from core.platform.cache import REFRESH_GRACE, TtlCache
from core.platform.clock import Clock
from core.platform.errors import Unauthorized

SESSION_TTL = timedelta(seconds=3)
REVOCATION_BOUND = timedelta(seconds=5)  # docs/authorization.md states this bound
assert SESSION_TTL + REFRESH_GRACE < REVOCATION_BOUND
MAX_CACHED_SESSIONS = 10_000


@dataclass(frozen=True)
class UserState:
    """A user as the session check reads them; ``usable`` covers active and buyer active."""

    user_type: str
    buyer_id: str | None
    usable: bool
    token_version: int
    created_at: datetime

    def accepts(self, claims: AccessClaims) -> bool:
        """Usable, at the token's generation, and not created after the token was issued
        (an ID reused for a new user does not take over the old user's tokens)."""
        issued_long_before = (
            claims.issued_at is not None
            and claims.issued_at + timedelta(seconds=1) <= self.created_at
        )
        return self.usable and self.token_version == claims.token_version and not issued_long_before


_USER_STATE = (
    select(
        User.user_type,
        User.buyer_id,
        User.active,
        User.token_version,
        User.created_at,
        Buyer.active,
    )
    .outerjoin(Buyer, Buyer.id == User.buyer_id)
    .where(User.id == bindparam("subject_id"))
)
_CLIENT_ACTIVE = select(ApiClient.active).where(ApiClient.id == bindparam("client_id"))
_BUMP_VERSION = (
    update(User)
    .where(User.id == bindparam("subject_id"))
    .values(token_version=User.token_version + 1)
)


class SessionCheck:
    """Per process: verified claims → the principal they stand for, or 401."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._users: TtlCache[str, UserState | None] = TtlCache(
            clock, SESSION_TTL, MAX_CACHED_SESSIONS
        )
        self._clients: TtlCache[str, bool] = TtlCache(clock, SESSION_TTL, MAX_CACHED_SESSIONS)

    def principal(self, claims: AccessClaims) -> Principal:
        user = self._users.get_or_load(claims.user_id, lambda: self._user_state(claims.user_id))
        if user is None or user.token_version < claims.token_version:
            # Cached before the user existed or before their latest sign-in generation:
            # read afresh rather than refuse a token newer than the cache.
            user = self._user_state(claims.user_id)
        if user is None or not user.accepts(claims):
            raise Unauthorized("The token's session has ended: sign in again.")
        if not self._clients.get_or_load(claims.client_id, lambda: self._client_active(claims)):
            raise Unauthorized("The token's API client is no longer active: sign in again.")
        return Principal(
            user_id=claims.user_id,
            username=claims.username,
            user_type=user.user_type,
            buyer_id=user.buyer_id,
            client_id=claims.client_id,
            roles=claims.roles,
        )

    def _user_state(self, user_id: str) -> UserState | None:
        with self._sessions() as session:
            row = session.execute(_USER_STATE, {"subject_id": user_id}).first()
        if row is None:
            return None
        user_type, buyer_id, active, version, created_at, buyer_active = row
        usable = bool(active) and (buyer_id is None or bool(buyer_active))
        return UserState(str(user_type), buyer_id, usable, int(version), created_at)

    def _client_active(self, claims: AccessClaims) -> bool:
        with self._sessions() as session:
            return bool(session.scalar(_CLIENT_ACTIVE, {"client_id": claims.client_id}))


def revoke_user_sessions(connection: Connection, user_id: str, now: datetime) -> None:
    """End every session of the user: access tokens fail within :data:`REVOCATION_BOUND`,
    refresh tokens at once."""
    connection.execute(_BUMP_VERSION, {"subject_id": user_id})
    end_user_refresh_tokens(connection, user_id, now)
