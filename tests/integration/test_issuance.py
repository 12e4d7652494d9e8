"""Which sender targets an issued OTP is delivered through.

Senders and delivery configs as docs/admin-api.md describes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.messaging.events import OtpRequested
from core.models import BUYER, ApiClient, Delivery, MessageSenderAssignment, OneTimePassword
from core.otp.fanout import issue_otps_for_request
from core.otp.fanout_lookups import FanOutLookups
from core.platform.ids import new_uuid
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import (
    make_buyer,
    make_client,
    make_delivery_config,
    make_user,
    make_webhook_sender,
)

ALL_TARGETS = {
    "MessageSender": {"Endpoint": "http://127.0.0.1:9/ms", "Secret": "s1"},
    "Http": {"Endpoint": "http://127.0.0.1:9/http", "Secret": "s2"},
    "Smtp": {"Host": "127.0.0.1", "Port": 25, "From": "otp@example.com"},
    "Console": {},
}


def _issue(session: Session, settings: Settings, client_id: str, username: str) -> list[Delivery]:
    event = OtpRequested(
        request_id=f"req-{username}",
        client_id=client_id,
        username=username,
        requested_at=datetime.now(UTC),
    )
    issue_otps_for_request(session, event, settings=settings, clock=FrozenClock())
    query = select(Delivery).where(Delivery.request_id == event.request_id)
    return list(session.scalars(query))


def _assign_to(session: Session, sender_id: str, buyer_id: str) -> None:
    session.query(MessageSenderAssignment).filter_by(message_sender_id=sender_id).update(
        {"buyer_id": buyer_id}
    )


def test_buyer_users_get_marketplace_and_their_buyers_senders_admins_marketplace_only(
    db: Session, settings: Settings
) -> None:
    buyer, other_buyer = make_buyer(db), make_buyer(db)
    client = make_client(db, allow_any_buyer=True, allow_seller=True)
    everyone = make_webhook_sender(db, url="http://127.0.0.1:9/all")
    own = make_webhook_sender(db, url="http://127.0.0.1:9/own")
    _assign_to(db, own.id, buyer.id)
    others = make_webhook_sender(db, url="http://127.0.0.1:9/others")
    _assign_to(db, others.id, other_buyer.id)
    make_webhook_sender(db, url="http://127.0.0.1:9/orders", message_types=["OrderSubmitted"])
    shopper = make_user(db, buyer=buyer)
    admin = make_user(db)

    shopper_senders = {d.sender_id for d in _issue(db, settings, client.id, shopper.username)}
    admin_senders = {d.sender_id for d in _issue(db, settings, client.id, admin.username)}

    assert shopper_senders == {everyone.id, own.id}
    assert admin_senders == {everyone.id}


def test_allow_all_buyers_reaches_every_buyers_users_without_an_assignment_not_admins(
    db: Session, settings: Settings
) -> None:
    buyer, other_buyer = make_buyer(db), make_buyer(db)
    client = make_client(db, allow_any_buyer=True, allow_seller=True)
    all_buyers = make_webhook_sender(db, url="http://127.0.0.1:9/all", reach="all_buyers")
    make_webhook_sender(db, url="http://127.0.0.1:9/none", reach="unassigned")
    shoppers = [make_user(db, buyer=buyer), make_user(db, buyer=other_buyer)]
    admin = make_user(db)

    for shopper in shoppers:
        senders = {d.sender_id for d in _issue(db, settings, client.id, shopper.username)}
        assert senders == {all_buyers.id}
    assert _issue(db, settings, client.id, admin.username) == []


def test_a_delivery_config_fans_out_to_each_target_on_its_channel(
    db: Session, settings: Settings
) -> None:
    client = make_client(db, allow_any_buyer=True)
    config = make_delivery_config(db, targets=ALL_TARGETS)
    make_webhook_sender(db, url=None, shared_key=None, delivery_config_id=config.id)
    user = make_user(db, buyer=make_buyer(db))
    dev_user = make_user(db, buyer=make_buyer(db))

    production = _issue(db, settings, client.id, user.username)
    dev = _issue(db, settings.replace(dev_mode=True), client.id, dev_user.username)

    assert {(d.target, d.channel) for d in production} == {
        ("MessageSender", "webhook"),
        ("Http", "webhook"),
        ("Smtp", "email"),
    }  # a Console target prints codes: only ever in dev mode
    assert ("Console", "console") in {(d.target, d.channel) for d in dev}
    assert len({d.otp_id for d in production}) == 1


def test_a_disabled_delivery_config_sends_nothing_and_issues_no_code(
    db: Session, settings: Settings
) -> None:
    client = make_client(db, allow_any_buyer=True)
    config = make_delivery_config(db, targets=ALL_TARGETS, enabled=False)
    make_webhook_sender(db, url=None, shared_key=None, delivery_config_id=config.id)
    user = make_user(db, buyer=make_buyer(db))

    assert _issue(db, settings, client.id, user.username) == []
    assert db.scalars(select(OneTimePassword).where(OneTimePassword.user_id == user.id)).all() == []


def test_a_failed_statement_never_shows_its_bound_values(db: Session) -> None:
    client = make_client(db)
    user = make_user(db)
    marker = b"nonce-that-must-not-be-logged-00"
    with pytest.raises(IntegrityError) as raised, db.begin_nested():
        for _ in range(2):  # the second row breaks unique (request_id, user_id)
            db.add(
                OneTimePassword(
                    id=new_uuid(),
                    user_id=user.id,
                    client_id=client.id,
                    request_id="same",
                    nonce=marker,
                    lookup_hash=marker,
                    expires_at=datetime.now(UTC),
                )
            )
            db.flush()
    assert "nonce-that-must-not-be-logged" not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)


def test_cached_lookups_show_an_added_sender_once_their_ttl_passed(
    db: Session, settings: Settings
) -> None:
    clock = FrozenClock()
    lookups = FanOutLookups(settings, ttl=timedelta(seconds=3), clock=clock)
    client = make_client(db, allow_any_buyer=True)
    first = make_webhook_sender(db, url="http://127.0.0.1:9/first")
    buyer = make_buyer(db)

    def senders_of_a_buyer_user() -> set[str]:
        return {sender_id for sender_id, _ in lookups.senders(db).targets_for(BUYER, buyer.id)}

    assert senders_of_a_buyer_user() == {first.id}
    assert lookups.client(db, client.id) is not None
    second = make_webhook_sender(db, url="http://127.0.0.1:9/second")
    db.query(ApiClient).filter_by(id=client.id).update({"active": False})

    clock.advance(2.9)
    assert senders_of_a_buyer_user() == {first.id}
    assert lookups.client(db, client.id).active  # type: ignore[union-attr]
    clock.advance(0.2)
    assert senders_of_a_buyer_user() == {first.id, second.id}
    assert not lookups.client(db, client.id).active  # type: ignore[union-attr]
