"""A marketplace seeded for a reliability run: one client, one buyer, many users, a webhook."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.factories import (
    make_buyer,
    make_client,
    make_profile,
    make_user,
    make_users,
    make_webhook_sender,
)

SHOPPER_ROLES = ["Shopper", "MeAdmin"]


@dataclass(frozen=True)
class Marketplace:
    client_id: str
    buyer_id: str
    usernames: list[str]
    user_ids: dict[str, str]  # username -> user id
    shared_email: str | None


def seed_marketplace(
    engine: Engine,
    *,
    webhook_url: str,
    signing_key: str,
    users: int,
    prefix: str = "load",
    shared_email_users: int = 0,
    allowed_failed_attempts: int = 10,
) -> Marketplace:
    """Commit a client allowing any buyer, a marketplace-wide OneTimePassword webhook sender,
    ``users`` buyer users with distinct emails and ``shared_email_users`` more sharing one."""
    with Session(engine) as session, session.begin():
        buyer = make_buyer(session)
        client = make_client(session, allow_any_buyer=True, allow_seller=True)
        make_profile(
            session,
            roles=SHOPPER_ROLES,
            buyer=buyer,
            password_config={
                "AllowedFailedAttempts": allowed_failed_attempts,
                "LockoutDuration": 2,
            },
        )
        make_webhook_sender(session, url=webhook_url, shared_key=signing_key)
        created = make_users(session, users, buyer=buyer, prefix=prefix)
        shared_email = f"shared-{prefix}@example.com" if shared_email_users else None
        for n in range(shared_email_users):
            created.append(
                make_user(session, buyer=buyer, username=f"{prefix}-shared{n}", email=shared_email)
            )
        return Marketplace(
            client_id=client.id,
            buyer_id=buyer.id,
            usernames=[user.username for user in created[:users]],
            user_ids={user.username: user.id for user in created},
            shared_email=shared_email,
        )
