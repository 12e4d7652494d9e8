from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.identity.bootstrap import bootstrap_admin
from core.identity.passwords import PasswordHasher
from core.models import ApiClient, SecurityProfileAssignment, User
from core.platform.settings import Argon2Parameters


def test_bootstrap_twice_gives_the_same_client_and_one_user(db: Session) -> None:
    hasher = PasswordHasher(Argon2Parameters())
    first = bootstrap_admin(db, hasher, username="root", password="pw-one", email="r@example.com")
    second = bootstrap_admin(db, hasher, username="ROOT", password="pw-one")
    assert first == second
    assert db.scalar(select(func.count()).select_from(User)) == 1
    assert db.scalar(select(func.count()).select_from(ApiClient)) == 1
    assert db.scalar(select(func.count()).select_from(SecurityProfileAssignment)) == 1
    user = db.scalars(select(User)).one()
    assert user.email == "r@example.com"
    assert user.user_type == "admin"
    assert hasher.verify(user.password_hash, "pw-one")
    client = db.get(ApiClient, first)
    assert client is not None
    assert client.allow_seller
