"""``GET /v1/me``: the user the bearer token speaks for, in OrderCloud's MeUser shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import Field
from sqlalchemy.orm import Session

from api.auth import current_principal
from api.openapi import Operation, document
from api.runtime import current_runtime
from api.wire import Extended, WireModel
from core.models import Buyer, User
from core.platform.db import transaction
from core.platform.errors import Unauthorized

me = Blueprint("me", __name__)


class MeBuyer(WireModel):
    id: str
    default_catalog_id: str | None = None


class MeUser(WireModel):
    """OrderCloud's MeUser; Supplier and Seller are always null here."""

    buyer: MeBuyer | None = Field(description="The user's buyer; null for admin users.")
    supplier: None = None
    seller: None = None
    id: str
    company_id: str | None = Field(description="The buyer's ID; null for admin users.")
    username: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    terms_accepted: datetime | None
    active: bool
    xp: Extended = Field(default_factory=dict)
    available_roles: list[str] = Field(description="The roles the token holds.")
    locale: None = None
    date_created: datetime
    last_active: datetime | None
    password_last_set_date: datetime | None


document(
    me,
    Operation(
        "/v1/me",
        "get",
        "The user the token speaks for",
        "Me",
        responses={200: MeUser},
    ),
)


def _buyer(session: Session, buyer_id: str | None) -> dict[str, Any] | None:
    buyer = session.get(Buyer, buyer_id) if buyer_id else None
    if buyer is None:
        return None
    return {"id": buyer.id, "default_catalog_id": buyer.default_catalog_id}


@me.get("/v1/me")
def get_me() -> Response:
    """Any live token; a client_credentials token speaks for DefaultContextUserName. The
    user is the token's by ID: a username reused since names someone else."""
    principal = current_principal()
    with transaction(current_runtime().sessions) as session:
        user = session.get(User, principal.user_id)
        if user is None:  # deleted since another process's session cache last looked
            raise Unauthorized("The token's user no longer exists.")
        body = MeUser.model_validate(
            {
                "id": user.id,
                "username": user.username,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "phone": user.phone,
                "active": user.active,
                "xp": user.xp or {},
                "available_roles": list(principal.roles),
                "buyer": _buyer(session, user.buyer_id),
                "company_id": user.buyer_id,
                "terms_accepted": user.terms_accepted_at,
                "date_created": user.created_at,
                "last_active": user.last_login_at,
                "password_last_set_date": user.password_set_at,
            },
            by_name=True,
        )
    return jsonify(body.model_dump(mode="json", by_alias=True))
