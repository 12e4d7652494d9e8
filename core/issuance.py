"""Fan-out of an OTP request: matching users, throttling, OTP and delivery rows.

The seed's matching rules (API.md "Matching") decide who gets a code; each recipient gets
one OTP row and one delivery row per applicable sender target, all in one transaction.
Follow-up messages are published only after that transaction committed (invariant 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.codes import derive_code, lookup_hash, new_nonce
from core.db import transaction
from core.eligibility import allowed_on_client
from core.events import OtpRequested
from core.ids import new_uuid
from core.models import (
    BUYER,
    ONE_TIME_PASSWORD,
    PENDING,
    ApiClient,
    Delivery,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
    OneTimePassword,
    User,
)
from core.settings import Settings
from core.targets import SenderTarget, sender_targets


@dataclass(frozen=True)
class PendingDelivery:
    """A delivery row waiting for its channel's actor; travels as its id only."""

    id: str
    channel: str


@dataclass
class IssuanceResult:
    """What one OTP request led to; the counts feed the workers' metrics.

    ``unmatched``: no active, allowed user matched (or the client is gone), so the request
    issued nothing. ``without_sender``: matching users no OneTimePassword sender reaches.
    """

    deliveries: list[PendingDelivery] = field(default_factory=list)
    issued: int = 0
    throttled: int = 0
    without_sender: int = 0
    unmatched: bool = False
    already_issued: bool = False


class DeliveryPublisher(Protocol):
    def publish(self, deliveries: Sequence[PendingDelivery]) -> None:
        """Queue one message per delivery, carrying the delivery id only."""
        ...


def process_otp_request(
    sessions: sessionmaker[Session],
    event: OtpRequested,
    *,
    settings: Settings,
    clock: Clock,
    publisher: DeliveryPublisher,
) -> IssuanceResult:
    """Issue the request's OTPs in one transaction, then publish their deliveries."""
    with transaction(sessions) as session:
        result = issue_otps_for_request(session, event, settings=settings, clock=clock)
    publisher.publish(result.deliveries)
    return result


def issue_otps_for_request(
    session: Session, event: OtpRequested, *, settings: Settings, clock: Clock
) -> IssuanceResult:
    """Match users, apply the throttle, add OTP and delivery rows (the caller commits).

    Idempotent per request: when this request already issued its OTPs (a redelivered
    event), nothing new is issued, and deliveries never attempted are returned again in
    case the first run committed but died before publishing them.
    """
    result = IssuanceResult()
    client = session.get(ApiClient, event.client_id)
    if client is None or not client.active:
        result.unmatched = True
        return result
    users = _matching_users(session, client, event)
    if not users:
        result.unmatched = True
        return result
    if _request_already_issued(session, event.request_id):
        result.already_issued = True
        result.deliveries = _unattempted_deliveries(session, event.request_id)
        return result

    senders = _applicable_senders(session, settings)
    now = clock.now()
    for user in users:
        targets = senders.targets_for(user)
        if not targets:
            result.without_sender += 1
            continue
        if _issued_recently(session, user, client, settings, clock) >= settings.otp_max_per_user:
            result.throttled += 1
            continue
        otp = _new_otp(user, client, event.request_id, settings, clock)
        session.add(otp)
        session.flush()  # the OTP row first: its deliveries reference it
        for sender, target in targets:
            delivery = Delivery(
                id=new_uuid(),
                otp_id=otp.id,
                sender_id=sender.id,
                target=target.target,
                channel=target.channel,
                user_id=user.id,
                client_id=client.id,
                request_id=event.request_id,
                status=PENDING,
                attempts=0,
                expires_at=otp.expires_at,
                created_at=now,
                updated_at=now,
            )
            session.add(delivery)
            result.deliveries.append(PendingDelivery(delivery.id, delivery.channel))
        result.issued += 1
    session.flush()
    return result


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _matching_users(session: Session, client: ApiClient, event: OtpRequested) -> list[User]:
    """Active users allowed on the client that the request names (API.md "Matching").

    The rows are locked so that concurrent requests for one user count the throttle
    one after the other.
    """
    username = _blank_to_none(event.username)
    email = _blank_to_none(event.email)
    if username is None and email is None:
        return []
    query = select(User).where(User.active.is_(True), allowed_on_client(client))
    if username is not None:
        query = query.where(func.lower(User.username) == func.lower(literal(username)))
    if email is not None:
        # With both given, this is the seed's rule: that username's email must equal Email.
        query = query.where(func.lower(User.email) == func.lower(literal(email)))
    return list(session.scalars(query.order_by(User.id).with_for_update(of=User)))


def _request_already_issued(session: Session, request_id: str) -> bool:
    query = select(OneTimePassword.id).where(OneTimePassword.request_id == request_id).limit(1)
    return session.scalar(query) is not None


def _unattempted_deliveries(session: Session, request_id: str) -> list[PendingDelivery]:
    query = (
        select(Delivery.id, Delivery.channel)
        .where(
            Delivery.request_id == request_id,
            Delivery.status == PENDING,
            Delivery.attempts == 0,
        )
        .order_by(Delivery.id)
    )
    return [PendingDelivery(row.id, row.channel) for row in session.execute(query)]


def _issued_recently(
    session: Session, user: User, client: ApiClient, settings: Settings, clock: Clock
) -> int:
    since = clock.now() - timedelta(seconds=settings.otp_throttle_window)
    query = select(func.count(OneTimePassword.id)).where(
        OneTimePassword.user_id == user.id,
        OneTimePassword.client_id == client.id,
        OneTimePassword.created_at > since,
    )
    return session.scalar(query) or 0


def _new_otp(
    user: User, client: ApiClient, request_id: str, settings: Settings, clock: Clock
) -> OneTimePassword:
    settings.require("secret_key")
    assert settings.secret_key is not None
    nonce = new_nonce()
    code = derive_code(settings.secret_key, nonce, settings.otp_length)
    now = clock.now()
    return OneTimePassword(
        id=new_uuid(),
        user_id=user.id,
        client_id=client.id,
        request_id=request_id,
        nonce=nonce,
        lookup_hash=lookup_hash(
            settings.secret_key, user_id=user.id, client_id=client.id, code=code
        ),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.otp_lifetime),
    )


@dataclass
class _ApplicableSenders:
    """OneTimePassword senders with their targets, by marketplace and by buyer."""

    marketplace: list[tuple[MessageSender, SenderTarget]]
    by_buyer: dict[str, list[tuple[MessageSender, SenderTarget]]]

    def targets_for(self, user: User) -> list[tuple[MessageSender, SenderTarget]]:
        """Marketplace-level senders for everyone; buyer-assigned ones for that buyer's users."""
        found = list(self.marketplace)
        if user.user_type == BUYER and user.buyer_id is not None:
            seen = {(sender.id, target.target) for sender, target in found}
            found += [
                pair
                for pair in self.by_buyer.get(user.buyer_id, [])
                if (pair[0].id, pair[1].target) not in seen
            ]
        return found


def _applicable_senders(session: Session, settings: Settings) -> _ApplicableSenders:
    query = select(MessageSender, MessageSenderAssignment.buyer_id).join(
        MessageSenderAssignment, MessageSenderAssignment.message_sender_id == MessageSender.id
    )
    applicable = _ApplicableSenders(marketplace=[], by_buyer={})
    configs: dict[str, DeliveryConfig | None] = {}
    for sender, buyer_id in session.execute(query.order_by(MessageSender.id)):
        if ONE_TIME_PASSWORD not in (sender.message_types or []):
            continue
        config_id = sender.delivery_config_id
        if config_id is not None and config_id not in configs:
            configs[config_id] = session.get(DeliveryConfig, config_id)
        config = configs.get(config_id) if config_id is not None else None
        pairs = [
            (sender, target)
            for target in sender_targets(sender, config, dev_mode=settings.dev_mode)
        ]
        if buyer_id is None:
            applicable.marketplace += pairs
        else:
            applicable.by_buyer.setdefault(buyer_id, []).extend(pairs)
    return applicable
