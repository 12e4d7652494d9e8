"""A marketplace with one caller of each kind the authorization rules tell apart.

Two buyers (A and B), an API client every user may sign in through, a confidential
client whose context user is a FullAccess seller admin, and these callers, each with the
password :data:`PASSWORD` and roles from a profile assigned to them alone:

=====================  ===========  ==================================
persona                user type    roles
=====================  ===========  ==================================
seller_admin           admin        FullAccess
seller_narrow          admin        BuyerUserReader
buyer_full_access      buyer (A)    FullAccess
buyer_admin_same       buyer (A)    BuyerAdmin, BuyerUserAdmin
buyer_admin_other      buyer (B)    BuyerAdmin, BuyerUserAdmin
shopper                buyer (A)    Shopper, MeAdmin
client_credentials     (context: seller_admin, through the confidential client)
=====================  ===========  ==================================

Plus targets that hold no role: ``victim-a`` (a user of buyer A) and ``victim-admin``.
Tokens come from the token handler's ``/oauth/token``, never signed by the test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.factories import hasher, make_buyer, make_client, make_profile, make_user

PASSWORD = "authz world password"
CLIENT_SECRET = "authz-client-secret"
BUYER_A = "buyer-a"
BUYER_B = "buyer-b"
VICTIM = "victim-a"
VICTIM_ADMIN = "victim-admin"

PERSONA_ROLES: Mapping[str, tuple[str | None, list[str]]] = {
    "seller_admin": (None, ["FullAccess"]),
    "seller_narrow": (None, ["BuyerUserReader"]),
    "buyer_full_access": (BUYER_A, ["FullAccess"]),
    "buyer_admin_same": (BUYER_A, ["BuyerAdmin", "BuyerUserAdmin"]),
    "buyer_admin_other": (BUYER_B, ["BuyerAdmin", "BuyerUserAdmin"]),
    "shopper": (BUYER_A, ["Shopper", "MeAdmin"]),
}
PERSONAS = (*PERSONA_ROLES, "client_credentials")


@dataclass(frozen=True)
class World:
    client_id: str  # public client: password and refresh_token grants
    confidential_client_id: str  # client_credentials, context user seller_admin


def build_world(engine: Engine, *, refresh_minutes: int = 60) -> World:
    """Commit the marketplace described in the module's docstring."""
    with Session(engine) as session, session.begin():
        buyers = {
            BUYER_A: make_buyer(session, id=BUYER_A),
            BUYER_B: make_buyer(session, id=BUYER_B),
        }
        client = make_client(
            session,
            allow_seller=True,
            allow_any_buyer=True,
            refresh_token_duration=refresh_minutes,
        )
        for name, (buyer_id, roles) in PERSONA_ROLES.items():
            buyer = buyers[buyer_id] if buyer_id else None
            user = make_user(session, buyer=buyer, id=name, username=name, password=PASSWORD)
            make_profile(session, roles=roles, user=user)
        make_user(session, buyer=buyers[BUYER_A], id=VICTIM, username=VICTIM, password=PASSWORD)
        make_user(session, id=VICTIM_ADMIN, username=VICTIM_ADMIN, password=PASSWORD)
        confidential = make_client(
            session,
            allow_seller=True,
            client_secret_hash=hasher().hash(CLIENT_SECRET),
            default_context_username="seller_admin",
        )
        return World(client_id=client.id, confidential_client_id=confidential.id)


# post(form) -> (status, JSON body): the token endpoint, in-process or over HTTP.
TokenPost = Callable[[dict[str, str]], tuple[int, dict[str, Any]]]


def sign_in(post: TokenPost, world: World, persona: str) -> dict[str, Any]:
    """The token response for ``persona`` (client_credentials through its client)."""
    if persona == "client_credentials":
        form = {
            "grant_type": "client_credentials",
            "client_id": world.confidential_client_id,
            "client_secret": CLIENT_SECRET,
        }
    else:
        form = {
            "grant_type": "password",
            "client_id": world.client_id,
            "username": persona,
            "password": PASSWORD,
        }
    status, body = post(form)
    assert status == 200, (persona, body)
    return body
