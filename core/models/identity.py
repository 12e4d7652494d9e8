"""Marketplace identities: API clients, buyers, users, security profiles, tokens, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JsonDocument, UTCDateTime, utcnow

ADMIN = "admin"
BUYER = "buyer"


class ApiClient(Base):
    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    app_name: Mapped[str] = mapped_column(String(255), default="")
    client_secret_hash: Mapped[str | None] = mapped_column(String(255))
    access_token_duration: Mapped[int] = mapped_column(Integer, default=600)  # minutes
    refresh_token_duration: Mapped[int] = mapped_column(Integer, default=0)  # minutes
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_any_buyer: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_seller: Mapped[bool] = mapped_column(Boolean, default=False)
    default_context_username: Mapped[str | None] = mapped_column(String(255))
    xp: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiClientAssignment(Base):
    __tablename__ = "api_client_assignments"

    api_client_id: Mapped[str] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_id: Mapped[str] = mapped_column(
        ForeignKey("buyers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Buyer(Base):
    __tablename__ = "buyers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # OrderCloud's DefaultCatalogID: stored and returned; this service has no catalogs.
    default_catalog_id: Mapped[str | None] = mapped_column(String(100))
    xp: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """Admin (seller) and buyer users in one table; usernames unique case-insensitively."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_type: Mapped[str] = mapped_column(String(10))  # ADMIN | BUYER
    buyer_id: Mapped[str | None] = mapped_column(ForeignKey("buyers.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    xp: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # PasswordLastSetDate
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # TermsAccepted
    failed_login_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # indefinite lock
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # LastActive
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Carried in every access token as "tv"; raising it ends every session issued before
    # (RevokeUserTokens, a password change, deactivation): core.auth.sessions.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


Index("uq_users_username_lower", func.lower(User.username), unique=True)
Index("ix_users_email_lower", func.lower(User.email))

# Lists of one buyer's users (admin users: buyer_id IS NULL) page in these orders without
# sorting: (buyer_id, <sortBy key>, id). Searches and text filters use the trigram index,
# xp filters the xp index. See docs/list-queries.md.
USER_SORT_KEYS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "active",
    "created_at",
    "last_login_at",
    "password_set_at",
)
Index("ix_users_buyer_id_id", User.buyer_id, User.id)
# The exact TotalCount of a list that matches most of a buyer's users is an index-only scan
# of every entry; on buyer_id alone the entries deduplicate into posting lists, a sixth of
# the pages of (buyer_id, id): 59 ms instead of 99 ms for 1,000,000 users.
Index("ix_users_buyer_id", User.buyer_id)
for _key in USER_SORT_KEYS:
    Index(f"ix_users_buyer_id_{_key}", User.buyer_id, getattr(User, _key), User.id)
USER_SEARCH_COLUMNS = ("id", "username", "email", "first_name", "last_name")
Index(
    "ix_users_search_trgm",
    *(getattr(User, name) for name in USER_SEARCH_COLUMNS),
    postgresql_using="gin",
    postgresql_ops=dict.fromkeys(USER_SEARCH_COLUMNS, "gin_trgm_ops"),
)
Index("ix_users_xp", User.xp, postgresql_using="gin", postgresql_ops={"xp": "jsonb_path_ops"})


class SecurityProfile(Base):
    __tablename__ = "security_profiles"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    roles: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    custom_roles: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    # PasswordConfig: {"AllowedFailedAttempts": int, "LockoutDuration": minutes, ...}
    password_config: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SecurityProfileAssignment(Base):
    """Marketplace level (no buyer, no user), buyer level, or user level."""

    __tablename__ = "security_profile_assignments"
    __table_args__ = (UniqueConstraint("security_profile_id", "buyer_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    security_profile_id: Mapped[str] = mapped_column(
        ForeignKey("security_profiles.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[str | None] = mapped_column(
        ForeignKey("buyers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class RefreshToken(Base):
    """Opaque refresh tokens, stored as a keyed hash and rotated on every use."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    roles: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The id of the first token of its rotation chain (null: the row is its own family);
    # replaying a used token ends every token of the family (RFC 9700 section 4.14).
    family_id: Mapped[str | None] = mapped_column(String(36), index=True)


class AuthEvent(Base):
    """Append-only audit of token attempts; purged after ``OTP_AUDIT_RETENTION``."""

    __tablename__ = "auth_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(100), index=True)
    client_id: Mapped[str | None] = mapped_column(String(100))
    grant_type: Mapped[str] = mapped_column(String(30))
    method: Mapped[str] = mapped_column(String(20))  # password | otp | secret | refresh
    outcome: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
