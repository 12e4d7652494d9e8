"""A delivery row with everything one attempt needs, read in one statement as plain records.

The row is locked for the attempt (``FOR UPDATE ... SKIP LOCKED``: a duplicate message for
a row another worker is sending right now finds nothing and does nothing; that worker
records the outcome). Its OTP, user, sender, delivery config and the client's app name
come outer-joined, so a row whose OTP, user or sender is gone is still found, and fails
or expires for that reason.

The columns are read with SQLAlchemy Core into slotted records, not loaded as ORM
objects: on the delivery path, ORM loading of five entities cost more CPU than the
statement itself (bench/README.md, "The hot path: what was measured and tried").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from core.models import ApiClient, Delivery, DeliveryConfig, MessageSender, OneTimePassword, User


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The delivery row as it was when locked."""

    id: str
    target: str
    user_id: str
    client_id: str
    request_id: str
    status: str
    attempts: int
    last_status_code: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OtpRecord:
    """What delivering needs of the OTP: the nonce its code derives from, its life."""

    nonce: bytes
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Recipient:
    """The user a message goes to, as templates and webhook payloads show them."""

    id: str
    buyer_id: str | None
    username: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    active: bool
    xp: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SenderRecord:
    """A message sender as a delivery reads it (secrets already opened)."""

    id: str
    url: str | None
    shared_key: str | None
    delivery_config_id: str | None
    xp: dict[str, Any]
    template_overrides: dict[str, str]


@dataclass(frozen=True, slots=True)
class ConfigRecord:
    """A delivery config as a delivery reads it (target secrets already opened)."""

    id: str
    enabled: bool
    delivery_targets: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryContext:
    """The locked delivery row; the rest is ``None`` where the joined row is gone."""

    delivery: DeliveryRecord
    otp: OtpRecord | None
    user: Recipient | None
    sender: SenderRecord | None
    config: ConfigRecord | None
    app_name: str


_DELIVERY = (
    Delivery.id,
    Delivery.target,
    Delivery.user_id,
    Delivery.client_id,
    Delivery.request_id,
    Delivery.status,
    Delivery.attempts,
    Delivery.last_status_code,
    Delivery.created_at,
)
_OTP = (OneTimePassword.nonce, OneTimePassword.expires_at, OneTimePassword.used_at)
_USER = (
    User.id,
    User.buyer_id,
    User.username,
    User.first_name,
    User.last_name,
    User.email,
    User.phone,
    User.active,
    User.xp,
)
_SENDER = (
    MessageSender.id,
    MessageSender.url,
    MessageSender.shared_key,
    MessageSender.delivery_config_id,
    MessageSender.xp,
    MessageSender.template_overrides,
)
_CONFIG = (DeliveryConfig.id, DeliveryConfig.enabled, DeliveryConfig.delivery_targets)
# Where each record's columns sit in the row.
_D = slice(0, len(_DELIVERY))
_O = slice(_D.stop, _D.stop + len(_OTP))
_U = slice(_O.stop, _O.stop + len(_USER))
_S = slice(_U.stop, _U.stop + len(_SENDER))
_C = slice(_S.stop, _S.stop + len(_CONFIG))
_APP_NAME = _C.stop

# Built once: building and keying a statement costs more CPU than running it.
_WITH_CONTEXT: Select[*tuple[Any, ...]] = (
    select(*_DELIVERY, *_OTP, *_USER, *_SENDER, *_CONFIG, ApiClient.app_name)
    .select_from(Delivery)
    .outerjoin(OneTimePassword, OneTimePassword.id == Delivery.otp_id)
    .outerjoin(User, User.id == Delivery.user_id)
    .outerjoin(MessageSender, MessageSender.id == Delivery.sender_id)
    .outerjoin(DeliveryConfig, DeliveryConfig.id == MessageSender.delivery_config_id)
    .outerjoin(ApiClient, ApiClient.id == Delivery.client_id)
    .where(Delivery.id == bindparam("delivery_id"))
    .with_for_update(of=Delivery, skip_locked=True)
)


def lock_delivery(connection: Connection, delivery_id: str) -> DeliveryContext | None:
    """The delivery row, locked, with its context; ``None`` if it is gone or being sent."""
    row = connection.execute(_WITH_CONTEXT, {"delivery_id": delivery_id}).first()
    if row is None:
        return None
    otp, user, sender, config = row[_O], row[_U], row[_S], row[_C]
    return DeliveryContext(
        delivery=DeliveryRecord(*row[_D]),
        # The first column of each joined group is NOT NULL in its table: None means
        # the outer join found no row.
        otp=None if otp[0] is None else OtpRecord(*otp),
        user=None if user[0] is None else Recipient(*user),
        sender=None if sender[0] is None else SenderRecord(*sender),
        config=None if config[0] is None else ConfigRecord(*config),
        app_name=row[_APP_NAME] or "",
    )
