"""Which users may use which API client (API.md): one rule for token grants and fan-out."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from core.models import ADMIN, BUYER, ApiClient, ApiClientAssignment, Buyer, User


def allowed_on_client(client: ApiClient) -> ColumnElement[bool]:
    """A WHERE clause over ``User``: admin users when the client AllowSeller; buyer users
    whose buyer is active and either the client AllowAnyBuyer or is assigned to it."""
    buyer_is_active = exists(
        select(Buyer.id).where(Buyer.id == User.buyer_id, Buyer.active.is_(True))
    )
    buyer_is_assigned = exists(
        select(ApiClientAssignment.buyer_id).where(
            ApiClientAssignment.api_client_id == client.id,
            ApiClientAssignment.buyer_id == User.buyer_id,
        )
    )
    return or_(
        and_(User.user_type == ADMIN, true() if client.allow_seller else false()),
        and_(
            User.user_type == BUYER,
            buyer_is_active,
            true() if client.allow_any_buyer else buyer_is_assigned,
        ),
    )


def is_allowed_on_client(session: Session, user: User, client: ApiClient) -> bool:
    """Whether ``user`` may authenticate through ``client`` (one indexed query)."""
    query = select(User.id).where(User.id == user.id, allowed_on_client(client))
    return session.scalar(query) is not None
