from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.identity.eligibility import allowed_on_client, allowed_on_joined_client
from core.models import ApiClient, User
from tests.factories import make_buyer, make_client, make_user


def is_allowed_on_client(db: Session, user: User, client: ApiClient) -> bool:
    """The rule as fan-out applies it (client known) and as token grants do (client joined):
    both must agree."""
    known = select(User.id).where(User.id == user.id, allowed_on_client(client))
    joined = (
        select(User.id)
        .join(ApiClient, ApiClient.id == client.id)
        .where(User.id == user.id, allowed_on_joined_client())
    )
    allowed = db.scalar(known) is not None
    assert (db.scalar(joined) is not None) == allowed
    return allowed


def test_admin_users_need_a_client_that_allows_the_seller(db: Session) -> None:
    admin = make_user(db)
    assert is_allowed_on_client(db, admin, make_client(db, allow_seller=True))
    assert not is_allowed_on_client(db, admin, make_client(db, allow_any_buyer=True))


def test_buyer_users_need_any_buyer_or_an_assignment_and_an_active_buyer(db: Session) -> None:
    buyer = make_buyer(db)
    shopper = make_user(db, buyer=buyer)
    assert is_allowed_on_client(db, shopper, make_client(db, allow_any_buyer=True))
    assert is_allowed_on_client(db, shopper, make_client(db, buyers=[buyer]))
    assert not is_allowed_on_client(db, shopper, make_client(db, buyers=[make_buyer(db)]))
    assert not is_allowed_on_client(db, shopper, make_client(db, allow_seller=True))
    buyer.active = False
    db.flush()
    assert not is_allowed_on_client(db, shopper, make_client(db, allow_any_buyer=True))
