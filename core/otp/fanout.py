"""Fan-out of an OTP request: matching users, throttling, OTP and delivery rows.

The matching rules (docs/http-api.md "Matching") decide who gets a code; each recipient gets
one OTP row and one delivery row per applicable sender target, all in one transaction.
Follow-up messages are published only after that transaction committed (invariant 4 in
docs/architecture.md).

A fan-out is four statements: lock the matching users, count their recent OTPs (and look
for this request's), insert the OTP rows, insert the delivery rows. The API client and
the OneTimePassword senders change rarely, so a worker reads them through
:class:`FanOutLookups`, which keeps them for ``LOOKUP_TTL`` (as the api does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from core.delivery.targets import SenderTarget
from core.identity.eligibility import allowed_on_client
from core.messaging.events import OtpRequested, blank_to_none
from core.models import (
    PENDING,
    ApiClient,
    Base,
    Delivery,
    OneTimePassword,
    User,
)
from core.otp.codes import derive_code, lookup_hash, new_nonce
from core.otp.fanout_lookups import ClientRules, FanOutLookups
from core.platform.clock import Clock
from core.platform.db import transaction
from core.platform.ids import new_uuid
from core.platform.settings import Settings

# Matching queries kept built (one per client and request shape).
MAX_CACHED_QUERIES = 256


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
    lookups: FanOutLookups | None = None,
) -> IssuanceResult:
    """Issue the request's OTPs in one transaction, then publish their deliveries."""
    with transaction(sessions) as session:
        result = issue_otps_for_request(
            session, event, settings=settings, clock=clock, lookups=lookups
        )
    publisher.publish(result.deliveries)
    return result


def issue_otps_for_request(
    session: Session,
    event: OtpRequested,
    *,
    settings: Settings,
    clock: Clock,
    lookups: FanOutLookups | None = None,
) -> IssuanceResult:
    """Match users, apply the throttle, insert OTP and delivery rows (the caller commits).

    Idempotent per request: when this request already issued its OTPs (a redelivered
    event), nothing new is issued, and deliveries never attempted are returned again in
    case the first run committed but died before publishing them.
    """
    lookups = lookups or FanOutLookups(settings)
    result = IssuanceResult()
    client = lookups.client(session, event.client_id)
    if client is None or not client.active:
        result.unmatched = True
        return result
    # Core statements run on the session's connection: the same transaction, without the
    # ORM's execution layer (about a third of a statement's CPU here).
    connection = session.connection()
    users = _lock_matching_users(connection, client, event)
    if not users:
        result.unmatched = True
        return result
    now = clock.now()
    history = _otp_history(
        connection,
        users,
        client,
        event.request_id,
        since=now - timedelta(seconds=settings.otp_throttle_window),
    )
    if history.request_issued:
        result.already_issued = True
        result.deliveries = _unattempted_deliveries(session, event.request_id)
        return result

    senders = lookups.senders(session)
    otps: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for user in users:
        targets = senders.targets_for(user.user_type, user.buyer_id)
        if not targets:
            result.without_sender += 1
            continue
        if history.recent.get(user.id, 0) >= settings.otp_max_per_user:
            result.throttled += 1
            continue
        otp = _new_otp(user.id, client.id, event.request_id, settings, now)
        otps.append(otp)
        for sender_id, target in targets:
            delivery = _delivery_row(otp, sender_id, target, now)
            deliveries.append(delivery)
            result.deliveries.append(PendingDelivery(delivery["id"], target.channel))
        result.issued += 1
    if otps:
        # Core INSERTs of the tables: one statement each, however many rows, and none of
        # the ORM's unit of work or bulk machinery (it costs more CPU than the INSERT).
        connection.execute(_INSERT_OTPS, otps)
        connection.execute(_INSERT_DELIVERIES, deliveries)
    return result


_INSERT_OTPS = insert(Base.metadata.tables[OneTimePassword.__tablename__])
_INSERT_DELIVERIES = insert(Base.metadata.tables[Delivery.__tablename__])


@dataclass(frozen=True)
class _Recipient:
    id: str
    user_type: str
    buyer_id: str | None


def _lock_matching_users(
    connection: Connection, client: ClientRules, event: OtpRequested
) -> list[_Recipient]:
    """Active users allowed on the client that the request names (docs/http-api.md "Matching").

    The rows are locked so that concurrent requests for one user count the throttle
    one after the other (the count is the next statement, so it sees what they committed).
    """
    username = blank_to_none(event.username)
    email = blank_to_none(event.email)
    if username is None and email is None:
        return []
    query = _matching_query(client, username is not None, email is not None)
    rows = connection.execute(query, {"username": username, "email": email})
    return [_Recipient(row.id, row.user_type, row.buyer_id) for row in rows]


@lru_cache(maxsize=MAX_CACHED_QUERIES)
def _matching_query(
    client: ClientRules, by_username: bool, by_email: bool
) -> Select[str, str, str | None]:
    """Built once per client and shape: building and keying a query costs more than running it."""
    rules = ApiClient(
        id=client.id, allow_seller=client.allow_seller, allow_any_buyer=client.allow_any_buyer
    )
    query = select(User.id, User.user_type, User.buyer_id).where(
        User.active.is_(True), allowed_on_client(rules)
    )
    if by_username:
        username = bindparam("username", type_=String)
        query = query.where(func.lower(User.username) == func.lower(username))
    if by_email:
        # With both given, this is the documented rule: that username's email must equal Email.
        email = bindparam("email", type_=String)
        query = query.where(func.lower(User.email) == func.lower(email))
    return query.order_by(User.id).with_for_update(of=User)


@dataclass(frozen=True)
class _OtpHistory:
    recent: dict[str, int]  # user id -> OTPs issued for this client within the window
    request_issued: bool  # this request already issued OTPs (a redelivered event)


def _otp_history_query() -> Select[str, int, int]:
    """Per user: OTPs for the client since the window began, and OTPs of this request.

    Rows of other users with this request's OTPs count for the redelivery check only.
    """
    otp = OneTimePassword
    in_window = and_(otp.client_id == bindparam("client_id"), otp.created_at > bindparam("since"))
    of_request = otp.request_id == bindparam("request_id")
    return (
        select(otp.user_id, func.count(case((in_window, 1))), func.count(case((of_request, 1))))
        .where(or_(otp.user_id.in_(bindparam("user_ids", expanding=True)), of_request))
        .group_by(otp.user_id)
    )


_OTP_HISTORY = _otp_history_query()


def _otp_history(
    connection: Connection,
    users: Sequence[_Recipient],
    client: ClientRules,
    request_id: str,
    *,
    since: datetime,
) -> _OtpHistory:
    """The throttle counts of the locked users and the redelivery check, in one query."""
    parameters = {
        "client_id": client.id,
        "since": since,
        "request_id": request_id,
        "user_ids": [user.id for user in users],
    }
    rows = connection.execute(_OTP_HISTORY, parameters).all()
    return _OtpHistory(
        recent={user_id: count for user_id, count, _ in rows},
        request_issued=any(issued for _, _, issued in rows),
    )


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


def _delivery_row(
    otp: dict[str, Any], sender_id: str, target: SenderTarget, now: datetime
) -> dict[str, Any]:
    """A pending delivery row's values: the OTP through one sender target."""
    return {
        "id": new_uuid(),
        "otp_id": otp["id"],
        "sender_id": sender_id,
        "target": target.target,
        "channel": target.channel,
        "user_id": otp["user_id"],
        "client_id": otp["client_id"],
        "request_id": otp["request_id"],
        "status": PENDING,
        "attempts": 0,
        "expires_at": otp["expires_at"],
        "created_at": now,
        "updated_at": now,
    }


def _new_otp(
    user_id: str, client_id: str, request_id: str, settings: Settings, now: datetime
) -> dict[str, Any]:
    """An OTP row's values: a fresh nonce and the keyed lookup hash of the code it gives."""
    settings.require("secret_key")
    assert settings.secret_key is not None
    nonce = new_nonce()
    code = derive_code(settings.secret_key, nonce, settings.otp_length)
    return {
        "id": new_uuid(),
        "user_id": user_id,
        "client_id": client_id,
        "request_id": request_id,
        "nonce": nonce,
        "lookup_hash": lookup_hash(
            settings.secret_key, user_id=user_id, client_id=client_id, code=code
        ),
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.otp_lifetime),
    }
