"""Small builders for test data: each adds one row (with sensible defaults) and flushes."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.auth.tokens import TokenKeys
from core.identity.bootstrap import bootstrap_admin
from core.identity.passwords import PasswordHasher
from core.models import (
    ADMIN,
    BUYER,
    ONE_TIME_PASSWORD,
    PENDING,
    ApiClient,
    ApiClientAssignment,
    AuthEvent,
    Buyer,
    Delivery,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
    OneTimePassword,
    SecurityProfile,
    SecurityProfileAssignment,
    User,
    utcnow,
)
from core.otp.codes import derive_code, lookup_hash, new_nonce
from core.platform.ids import new_client_id, new_uuid
from core.platform.runtime import Runtime
from core.platform.settings import Argon2Parameters, Settings

_counter = itertools.count(1)
_hasher: PasswordHasher | None = None


def hasher() -> PasswordHasher:
    global _hasher  # noqa: PLW0603 - one hasher per test process; building it costs a hash
    if _hasher is None:
        _hasher = PasswordHasher(Argon2Parameters())
    return _hasher


def _next(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


# How a factory-made OneTimePassword sender reaches users (core/otp/senders.py):
# "all_buyers" is OrderCloud's way (AllowAllBuyers true, no assignment: every buyer's
# users); "marketplace" is a marketplace-level assignment (every user, admin users too);
# "unassigned" reaches nobody until an assignment is added.
SenderReach = Literal["all_buyers", "marketplace", "unassigned"]


def _add_otp_sender(session: Session, fields: dict[str, Any], reach: SenderReach) -> MessageSender:
    sender = MessageSender(**{"allow_all_buyers": reach == "all_buyers", **fields})
    session.add(sender)
    session.flush()
    if reach == "marketplace":
        session.add(MessageSenderAssignment(message_sender_id=sender.id, buyer_id=None))
        session.flush()
    return sender


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
    """A security profile assigned to a user, a buyer, or (``marketplace=True``) at
    marketplace level, which reaches admin users only (docs/http-api.md, "Roles")."""
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
    session: Session,
    *,
    url: str | None,
    shared_key: str | None = "shared-key",
    reach: SenderReach = "marketplace",
    **fields: Any,
) -> MessageSender:
    """A legacy-form OneTimePassword sender (URL + SharedKey), marketplace-wide by default."""
    return _add_otp_sender(
        session,
        {
            "id": _next("sender"),
            "name": "Webhook",
            "message_types": [ONE_TIME_PASSWORD],
            "url": url,
            "shared_key": shared_key,
            **fields,
        },
        reach,
    )


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


def make_otp(
    session: Session,
    user: User,
    client: ApiClient,
    settings: Settings,
    *,
    now: datetime | None = None,
    lifetime: timedelta | None = None,
    **fields: Any,
) -> tuple[OneTimePassword, str]:
    """An outstanding OTP row as the fan-out worker issues it, and its plaintext code."""
    assert settings.secret_key is not None
    issued_at = now or utcnow()
    nonce = new_nonce()
    code = derive_code(settings.secret_key, nonce, settings.otp_length)
    row = OneTimePassword(
        **{
            "id": new_uuid(),
            "user_id": user.id,
            "client_id": client.id,
            "request_id": new_uuid(),
            "nonce": nonce,
            "lookup_hash": lookup_hash(
                settings.secret_key, user_id=user.id, client_id=client.id, code=code
            ),
            "created_at": issued_at,
            "expires_at": issued_at + (lifetime or timedelta(seconds=settings.otp_lifetime)),
            "used_at": None,
            **fields,
        }
    )
    session.add(row)
    session.flush()
    return row, code


def make_otp_sender_with_config(
    session: Session, *, enabled: bool = True, reach: SenderReach = "marketplace", **fields: Any
) -> MessageSender:
    """A OneTimePassword sender whose delivery goes through a (possibly disabled) config
    with one Http target (a Console target would count in dev mode only)."""
    config = make_delivery_config(
        session,
        targets={"Http": {"Endpoint": "http://127.0.0.1:9/hook", "Secret": "http-secret"}},
        enabled=enabled,
    )
    return _add_otp_sender(
        session,
        {
            "id": _next("sender"),
            "name": "Configured",
            "message_types": [ONE_TIME_PASSWORD],
            "delivery_config_id": config.id,
            **fields,
        },
        reach,
    )


def make_otp_row(
    session: Session,
    *,
    user: User,
    client: ApiClient,
    created_at: datetime,
    expires_at: datetime | None = None,
    **fields: Any,
) -> OneTimePassword:
    """An OTP row with a random nonce and a placeholder lookup hash (for purge and listings)."""
    otp = OneTimePassword(
        **{
            "id": new_uuid(),
            "user_id": user.id,
            "client_id": client.id,
            "request_id": new_uuid(),
            "nonce": new_nonce(),
            "lookup_hash": secrets.token_bytes(32),
            "created_at": created_at,
            "expires_at": expires_at or created_at + timedelta(minutes=10),
            **fields,
        }
    )
    session.add(otp)
    session.flush()
    return otp


def make_delivery(
    session: Session, *, otp: OneTimePassword, status: str = PENDING, **fields: Any
) -> Delivery:
    """A delivery row for ``otp`` through a webhook sender, expiring with the OTP."""
    delivery = Delivery(
        **{
            "id": new_uuid(),
            "otp_id": otp.id,
            "sender_id": _next("sender"),
            "target": "Legacy",
            "channel": "webhook",
            "user_id": otp.user_id,
            "client_id": otp.client_id,
            "request_id": otp.request_id,
            "status": status,
            "expires_at": otp.expires_at,
            "created_at": otp.created_at,
            **fields,
        }
    )
    session.add(delivery)
    session.flush()
    return delivery


def make_auth_event(session: Session, *, at: datetime, **fields: Any) -> AuthEvent:
    event = AuthEvent(
        **{
            "at": at,
            "grant_type": "password",
            "method": "password",
            "outcome": "success",
            **fields,
        }
    )
    session.add(event)
    session.flush()
    return event


def make_access_token(
    keys: TokenKeys,
    *,
    roles: list[str],
    username: str = "admin",
    user_id: str = "admin",
    token_version: int = 0,
    user_type: str = ADMIN,
    client_id: str = "test-client",
    now: datetime | None = None,
    lifetime: timedelta = timedelta(minutes=10),
) -> str:
    """A signed access token as the token handler would issue it."""
    return keys.issue_access_token(
        username=username,
        user_id=user_id,
        token_version=token_version,
        client_id=client_id,
        user_type=user_type,
        roles=roles,
        token_id=_next("jti"),
        now=now or datetime.now(UTC),
        lifetime=lifetime,
    )


def make_email_sender(
    session: Session, *, smtp: dict[str, Any], reach: SenderReach = "marketplace", **fields: Any
) -> MessageSender:
    """A OneTimePassword sender delivering by email through an ``Smtp`` target, for everyone."""
    config = make_delivery_config(session, targets={"Smtp": smtp})
    return _add_otp_sender(
        session,
        {
            "id": _next("sender"),
            "name": "Email",
            "message_types": [ONE_TIME_PASSWORD],
            "delivery_config_id": config.id,
            **fields,
        },
        reach,
    )


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


def bootstrapped_admin_headers(runtime: Runtime, engine: Engine, username: str) -> dict[str, str]:
    """JSON headers with a FullAccess token of an admin made by ``otp bootstrap``'s code
    (committed, so api processes and other sessions see it)."""
    with Session(engine) as session, session.begin():
        client_id = bootstrap_admin(session, hasher(), username=username, password="p" * 16)
    token = TokenKeys(runtime.settings).issue_access_token(
        username=username,
        user_id=username,  # bootstrap gives the admin its username as ID
        token_version=0,
        client_id=client_id,
        user_type=ADMIN,
        roles=["FullAccess"],
        token_id=_next("jti"),
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=5),
    )
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
