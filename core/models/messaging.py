"""Message senders, delivery configs, OTP rows and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, JsonDocument, UTCDateTime, utcnow
from core.models.secrets import SealedText, TargetsWithSealedSecrets

ONE_TIME_PASSWORD = "OneTimePassword"  # noqa: S105 - a MessageType name, not a secret


class DeliveryConfig(Base):
    """Where messages go: ``DeliveryTargets`` holds MessageSender/Http/Smtp/Console targets."""

    __tablename__ = "delivery_configs"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    delivery_targets: Mapped[dict[str, Any]] = mapped_column(TargetsWithSealedSecrets, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageSender(Base):
    __tablename__ = "message_senders"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    message_types: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    description: Mapped[str | None] = mapped_column(String(2000))
    url: Mapped[str | None] = mapped_column(String(2000))
    shared_key: Mapped[str | None] = mapped_column(SealedText)
    delivery_config_id: Mapped[str | None] = mapped_column(
        ForeignKey("delivery_configs.id", ondelete="SET NULL"), index=True
    )
    elevated_roles: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    allow_all_buyers: Mapped[bool] = mapped_column(Boolean, default=False)
    xp: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    # {"subject.txt": "...", "body.txt": "...", "body.html": "..."}: Jinja2 sources
    template_overrides: Mapped[dict[str, str]] = mapped_column(JsonDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageSenderAssignment(Base):
    """Marketplace level when ``buyer_id`` is null, otherwise for that buyer's users."""

    __tablename__ = "message_sender_assignments"
    __table_args__ = (UniqueConstraint("message_sender_id", "buyer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_sender_id: Mapped[str] = mapped_column(
        ForeignKey("message_senders.id", ondelete="CASCADE"), index=True
    )
    buyer_id: Mapped[str | None] = mapped_column(
        ForeignKey("buyers.id", ondelete="CASCADE"), index=True
    )


class OneTimePassword(Base):
    """An issued OTP. The code is derived from ``nonce``; only a keyed lookup hash is stored."""

    __tablename__ = "one_time_passwords"
    __table_args__ = (
        UniqueConstraint("request_id", "user_id"),
        Index("ix_one_time_passwords_user_client_created", "user_id", "client_id", "created_at"),
        Index("ix_one_time_passwords_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(32))
    lookup_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
EXPIRED = "expired"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED, EXPIRED)


class Delivery(Base):
    """One message for one OTP through one sender target; its row records the outcome.

    A sender whose delivery config has several targets (say a webhook and SMTP) gets
    one row per target, so ``target`` is part of the unique key.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("otp_id", "sender_id", "target"),
        Index("ix_deliveries_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    otp_id: Mapped[str | None] = mapped_column(
        ForeignKey("one_time_passwords.id", ondelete="SET NULL"), index=True
    )
    sender_id: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(
        String(30)
    )  # Legacy | MessageSender | Http | Smtp | Console
    channel: Mapped[str] = mapped_column(String(20))  # webhook | email | console
    user_id: Mapped[str] = mapped_column(String(100), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
