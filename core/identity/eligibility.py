"""Which users may use which API client: one rule for token grants and fan-out.

The contract is docs/http-api.md "Matching".
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from core.models import ADMIN, BUYER, ApiClient, ApiClientAssignment, Buyer, User


def _allowed(
    client_id: ColumnElement[str] | InstrumentedAttribute[str] | str,
    allow_seller: ColumnElement[bool],
    allow_any_buyer: ColumnElement[bool],
) -> ColumnElement[bool]:
    buyer_is_active = exists(
        select(Buyer.id).where(Buyer.id == User.buyer_id, Buyer.active.is_(True))
    )
    buyer_is_assigned = exists(
        select(ApiClientAssignment.buyer_id).where(
            ApiClientAssignment.api_client_id == client_id,
            ApiClientAssignment.buyer_id == User.buyer_id,
        )
    )
    return or_(
        and_(User.user_type == ADMIN, allow_seller),
        and_(User.user_type == BUYER, buyer_is_active, or_(allow_any_buyer, buyer_is_assigned)),
    )


def allowed_on_client(client: ApiClient) -> ColumnElement[bool]:
    """A WHERE clause over ``User``: admin users when the client AllowSeller; buyer users
    whose buyer is active and either the client AllowAnyBuyer or is assigned to it."""
    return _allowed(
        client.id,
        true() if client.allow_seller else false(),
        true() if client.allow_any_buyer else false(),
    )


def allowed_on_joined_client() -> ColumnElement[bool]:
    """The same rule over the ``ApiClient`` and ``User`` rows a query joins (token grants
    read client and user in one statement)."""
    return _allowed(
        ApiClient.id, ApiClient.allow_seller.is_(True), ApiClient.allow_any_buyer.is_(True)
    )
