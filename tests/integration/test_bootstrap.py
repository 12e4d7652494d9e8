from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.identity.bootstrap import FULL_ACCESS_PROFILE_ID, bootstrap_admin
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


def test_bootstrap_assigns_full_access_to_its_admin_not_the_marketplace(db: Session) -> None:
    hasher = PasswordHasher(Argon2Parameters())
    # What earlier versions made: the FullAccess profile at marketplace level.
    bootstrap_admin(db, hasher, username="root", password="pw-one")
    db.add(SecurityProfileAssignment(security_profile_id=FULL_ACCESS_PROFILE_ID))
    db.flush()
    bootstrap_admin(db, hasher, username="root", password="pw-one")
    levels = db.execute(
        select(SecurityProfileAssignment.buyer_id, SecurityProfileAssignment.user_id)
    ).all()
    assert [tuple(level) for level in levels] == [(None, "root")]


def test_a_new_bootstrap_password_ends_the_sessions_of_the_old_one(db: Session) -> None:
    hasher = PasswordHasher(Argon2Parameters())
    bootstrap_admin(db, hasher, username="root", password="pw-one")
    bootstrap_admin(db, hasher, username="root", password="pw-one")
    user = db.scalars(select(User)).one()
    assert user.token_version == 0
    bootstrap_admin(db, hasher, username="root", password="pw-two")
    db.refresh(user)
    assert user.token_version == 1
