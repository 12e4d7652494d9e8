"""``otp dev --demo``: seed a tiny marketplace and print the curl commands that use it.

Seeding is idempotent (fixed IDs; rows that exist are left alone), so ``otp dev --demo``
can be restarted on the same dev folder. Codes reach the developer through the console
sender, which dev mode prints on standard output.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.identity.passwords import PasswordHasher
from core.models import (
    BUYER,
    ONE_TIME_PASSWORD,
    ApiClient,
    Buyer,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
    SecurityProfile,
    SecurityProfileAssignment,
    User,
)
from core.platform.db import transaction


@dataclass(frozen=True)
class DemoUser:
    id: str
    username: str
    first_name: str
    password: str


DEMO_CLIENT_ID = "DE30C0DE-0000-4000-8000-000000000001"
DEMO_BUYER_ID = "demo-buyer"
DEMO_EMAIL = "sam@example.com"
# Two usernames, one mailbox: an OTP request by email sends one code per username.
DEMO_USERS = (
    DemoUser("demo-user-sam", "sam", "Sam", "demo-password-1"),
    DemoUser("demo-user-sam-work", "sam.work", "Sam", "demo-password-2"),
)
DEMO_PROFILE_ID = "demo-shopper"
DEMO_DELIVERY_CONFIG_ID = "demo-console"
DEMO_SENDER_ID = "demo-console-sender"


def seed_demo(sessions: sessionmaker[Session], hasher: PasswordHasher) -> None:
    """Client (AllowAnyBuyer), buyer, two users, Shopper profile, console OTP sender."""
    with transaction(sessions) as session:
        _add_missing(
            session,
            ApiClient(
                id=DEMO_CLIENT_ID, app_name="Demo Storefront", active=True, allow_any_buyer=True
            ),
        )
        _add_missing(session, Buyer(id=DEMO_BUYER_ID, name="Demo Buyer", active=True))
        for user in DEMO_USERS:
            if session.get(User, user.id) is None:
                session.add(
                    User(
                        id=user.id,
                        user_type=BUYER,
                        buyer_id=DEMO_BUYER_ID,
                        username=user.username,
                        email=DEMO_EMAIL,
                        first_name=user.first_name,
                        last_name="Demo",
                        active=True,
                        password_hash=hasher.hash(user.password),
                    )
                )
        _add_missing(
            session,
            SecurityProfile(id=DEMO_PROFILE_ID, name="Shopper", roles=["Shopper", "MeAdmin"]),
        )
        _add_missing(
            session,
            DeliveryConfig(
                id=DEMO_DELIVERY_CONFIG_ID,
                name="Console (dev mode)",
                enabled=True,
                delivery_targets={"Console": {}},
            ),
        )
        _add_missing(
            session,
            MessageSender(
                id=DEMO_SENDER_ID,
                name="Console",
                message_types=[ONE_TIME_PASSWORD],
                delivery_config_id=DEMO_DELIVERY_CONFIG_ID,
                allow_all_buyers=True,
            ),
        )
        session.flush()
        profile_assigned = select(SecurityProfileAssignment.id).where(
            SecurityProfileAssignment.security_profile_id == DEMO_PROFILE_ID,
            SecurityProfileAssignment.buyer_id == DEMO_BUYER_ID,
        )
        if session.scalar(profile_assigned) is None:
            session.add(
                SecurityProfileAssignment(
                    security_profile_id=DEMO_PROFILE_ID, buyer_id=DEMO_BUYER_ID, user_id=None
                )
            )
        sender_assigned = select(MessageSenderAssignment.id).where(
            MessageSenderAssignment.message_sender_id == DEMO_SENDER_ID,
            MessageSenderAssignment.buyer_id.is_(None),
        )
        if session.scalar(sender_assigned) is None:
            session.add(MessageSenderAssignment(message_sender_id=DEMO_SENDER_ID, buyer_id=None))


def _add_missing(
    session: Session, row: ApiClient | Buyer | SecurityProfile | DeliveryConfig | MessageSender
) -> None:
    if session.get(type(row), row.id) is None:
        session.add(row)


def demo_commands(base_url: str) -> tuple[str, str]:
    """The curl commands: request an OTP by email, then exchange a code for a token."""
    request_body = f'{{"ClientID": "{DEMO_CLIENT_ID}", "Email": "{DEMO_EMAIL}"}}'
    request_otp = (
        f"curl -i -X POST {base_url}/v1/password/onetimepassword "
        f"-H 'Content-Type: application/json' -d {shlex.quote(request_body)}"
    )
    get_token = (
        f"curl -X POST {base_url}/oauth/token -d grant_type=password "
        f"-d client_id={DEMO_CLIENT_ID} -d username={DEMO_USERS[0].username} "
        "-d password=CODE"
    )
    return request_otp, get_token


def print_demo_instructions(stream: TextIO, base_url: str) -> None:
    request_otp, get_token = demo_commands(base_url)
    usernames = " and ".join(user.username for user in DEMO_USERS)
    stream.write(
        f"""
otp dev --demo: client {DEMO_CLIENT_ID}, users {usernames} share {DEMO_EMAIL}.

1. Request a one-time password by email (answers 204; one code per username is printed here):

   {request_otp}

2. Exchange the code printed for {DEMO_USERS[0].username} for an access token (a code works once):

   {get_token}

"""
    )
    stream.flush()
