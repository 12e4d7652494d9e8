"""Committed test data for the OTP request endpoint: the api reads it from its own pool."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from core.models import ApiClient, MessageSender
from tests.factories import make_buyer, make_client, make_user, make_webhook_sender

OTP_PATH = "/v1/password/onetimepassword"


@dataclass(frozen=True)
class Marketplace:
    client_id: str
    sender_id: str


def committed_marketplace(engine: Engine, *, with_sender: bool = True) -> Marketplace:
    """An active client allowing sellers and any buyer, plus (optionally) a webhook sender."""
    with Session(engine, expire_on_commit=False) as session:
        client = make_client(session, allow_seller=True, allow_any_buyer=True)
        sender_id = ""
        if with_sender:
            sender_id = make_webhook_sender(session, url="http://127.0.0.1:9/hook").id
        session.commit()
        return Marketplace(client_id=client.id, sender_id=sender_id)


def committed_users(engine: Engine, *, usernames: list[str], email: str | None = None) -> None:
    """Buyer users, all sharing ``email`` when given."""
    with Session(engine) as session:
        buyer = make_buyer(session)
        for username in usernames:
            fields = {"email": email} if email else {}
            make_user(session, buyer=buyer, username=username, **fields)
        session.commit()


def set_client_active(engine: Engine, client_id: str, *, active: bool) -> None:
    with Session(engine) as session:
        session.execute(update(ApiClient).where(ApiClient.id == client_id).values(active=active))
        session.commit()


def set_sender_message_types(engine: Engine, sender_id: str, message_types: list[str]) -> None:
    with Session(engine) as session:
        session.execute(
            update(MessageSender)
            .where(MessageSender.id == sender_id)
            .values(message_types=message_types)
        )
        session.commit()
