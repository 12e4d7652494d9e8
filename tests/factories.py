"""Small builders for test data: each adds one row (with sensible defaults) and flushes."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from core.ids import new_client_id
from core.models import (
    ADMIN,
    BUYER,
    ONE_TIME_PASSWORD,
    ApiClient,
    ApiClientAssignment,
    Buyer,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
    SecurityProfile,
    SecurityProfileAssignment,
    User,
)
from core.passwords import PasswordHasher
from core.settings import Argon2Parameters

_counter = itertools.count(1)
_hasher: PasswordHasher | None = None


def hasher() -> PasswordHasher:
    global _hasher  # noqa: PLW0603 - one hasher per test process; building it costs a hash
    if _hasher is None:
        _hasher = PasswordHasher(Argon2Parameters())
    return _hasher


def _next(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def make_buyer(session: Session, **fields: Any) -> Buyer:
    buyer = Buyer(**{"id": _next("buyer"), "name": "Buyer", "active": True, **fields})
    session.add(buyer)
    session.flush()
    return buyer


def make_client(session: Session, *, buyers: list[Buyer] = (), **fields: Any) -> ApiClient:  # type: ignore[assignment]
    client = ApiClient(
        **{"id": new_client_id(), "app_name": "Storefront", "active": True, **fields}
    )
    session.add(client)
    session.flush()
    for buyer in buyers:
        session.add(ApiClientAssignment(api_client_id=client.id, buyer_id=buyer.id))
    session.flush()
    return client


def make_user(
    session: Session, *, buyer: Buyer | None = None, password: str | None = None, **fields: Any
) -> User:
    username = fields.pop("username", None) or _next("user")
    user = User(
        **{
            "id": _next("uid"),
            "user_type": BUYER if buyer is not None else ADMIN,
            "buyer_id": buyer.id if buyer is not None else None,
            "username": username,
            "email": f"{username}@example.com",
            "first_name": "Test",
            "last_name": "User",
            "active": True,
            "password_hash": hasher().hash(password) if password else None,
            **fields,
        }
    )
    session.add(user)
    session.flush()
    return user


def make_profile(
    session: Session,
    *,
    roles: list[str],
    buyer: Buyer | None = None,
    user: User | None = None,
    password_config: dict[str, Any] | None = None,
    marketplace: bool = False,
) -> SecurityProfile:
    """A security profile assigned to a user, a buyer or (``marketplace=True``) everyone."""
    profile = SecurityProfile(
        id=_next("profile"), name="Profile", roles=roles, password_config=password_config or {}
    )
    session.add(profile)
    session.flush()
    if user is not None or buyer is not None or marketplace:
        session.add(
            SecurityProfileAssignment(
                security_profile_id=profile.id,
                buyer_id=buyer.id if buyer is not None else None,
                user_id=user.id if user is not None else None,
            )
        )
        session.flush()
    return profile


def make_webhook_sender(
    session: Session, *, url: str, shared_key: str = "shared-key", **fields: Any
) -> MessageSender:
    """A legacy-form OneTimePassword sender (URL + SharedKey) assigned marketplace-wide."""
    sender = MessageSender(
        **{
            "id": _next("sender"),
            "name": "Webhook",
            "message_types": [ONE_TIME_PASSWORD],
            "url": url,
            "shared_key": shared_key,
            "allow_all_buyers": True,
            **fields,
        }
    )
    session.add(sender)
    session.flush()
    session.add(MessageSenderAssignment(message_sender_id=sender.id, buyer_id=None))
    session.flush()
    return sender


def make_delivery_config(
    session: Session, *, targets: dict[str, Any], **fields: Any
) -> DeliveryConfig:
    config = DeliveryConfig(
        **{
            "id": _next("dc"),
            "name": "Delivery",
            "enabled": True,
            "delivery_targets": targets,
            **fields,
        }
    )
    session.add(config)
    session.flush()
    return config


def make_users(session: Session, count: int, *, buyer: Buyer, prefix: str) -> list[User]:
    """``count`` active buyer users named ``<prefix><n>`` in one flush (load tests)."""
    users = [
        User(
            id=f"{prefix}-{n}",
            user_type=BUYER,
            buyer_id=buyer.id,
            username=f"{prefix}{n}",
            email=f"{prefix}{n}@example.com",
            first_name="Load",
            last_name="User",
            active=True,
        )
        for n in range(count)
    ]
    session.add_all(users)
    session.flush()
    return users
