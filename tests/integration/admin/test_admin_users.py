"""Users through the admin API: lockout state, unlock, unique usernames, hashed passwords."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api import create_app
from core.auth.tokens import TokenKeys
from core.models import ApiClient, User
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import hasher, make_buyer, make_user
from tests.integration.admin.conftest import AdminClient, error_of


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def timed_admin(
    settings: Settings, committed_db: Engine, clock: FrozenClock
) -> Iterator[AdminClient]:
    runtime = Runtime(settings, clock=clock)
    yield AdminClient(
        create_app(runtime=runtime).test_client(), TokenKeys(settings), runtime.sessions
    )
    runtime.close()


def _user(committed_db: Engine, **fields: object) -> None:
    with Session(committed_db) as session, session.begin():
        buyer = make_buyer(session, id="shop")
        make_user(session, buyer=buyer, id="sue", username="sue", **fields)


def test_locked_follows_the_lockout_time_on_the_runtime_clock(
    timed_admin: AdminClient, committed_db: Engine, clock: FrozenClock
) -> None:
    _user(committed_db, failed_login_attempts=3, locked_until=clock.now() + timedelta(minutes=2))
    body = timed_admin.get("/v1/buyers/shop/users/sue").json
    assert body["Locked"] is True
    assert body["FailedLoginAttempts"] == 3
    clock.advance(121)
    assert timed_admin.get("/v1/buyers/shop/users/sue").json["Locked"] is False


def test_unlock_clears_the_counter_and_both_kinds_of_lock(
    admin: AdminClient, committed_db: Engine, clock: FrozenClock
) -> None:
    _user(
        committed_db,
        failed_login_attempts=10,
        locked=True,
        locked_until=clock.now() + timedelta(days=1),
    )
    assert admin.get("/v1/buyers/shop/users/sue").json["Locked"] is True
    unlocked = admin.post("/v1/buyers/shop/users/sue/unlock")
    assert unlocked.status_code == 200
    assert unlocked.json["Locked"] is False
    assert unlocked.json["FailedLoginAttempts"] == 0
    with Session(committed_db) as session:
        user = session.get(User, "sue")
        assert user is not None
        assert (user.failed_login_attempts, user.locked, user.locked_until) == (0, False, None)


def test_unlock_needs_the_admin_role_and_an_existing_user(
    admin: AdminClient, committed_db: Engine
) -> None:
    _user(committed_db, locked=True)
    assert (
        admin.post("/v1/buyers/shop/users/sue/unlock", roles=["BuyerUserReader"]).status_code == 403
    )
    assert (
        admin.post("/v1/buyers/shop/users/sue/unlock", roles=["BuyerUserAdmin"]).status_code == 200
    )
    assert admin.post("/v1/adminusers/sue/unlock").status_code == 404  # a buyer user
    assert admin.post("/v1/buyers/shop/users/nobody/unlock").status_code == 404


def test_failed_attempts_and_locked_are_read_only(admin: AdminClient, committed_db: Engine) -> None:
    _user(committed_db, failed_login_attempts=4, locked=True)
    admin.patch("/v1/buyers/shop/users/sue", json={"FailedLoginAttempts": 0, "Locked": False})
    body = admin.get("/v1/buyers/shop/users/sue").json
    assert (body["FailedLoginAttempts"], body["Locked"]) == (4, True)


def test_usernames_are_unique_across_the_marketplace_ignoring_case(admin: AdminClient) -> None:
    admin.post("/v1/buyers", json={"ID": "shop", "Name": "Shop"})
    person = {"FirstName": "P", "LastName": "Q", "Email": "p@example.com"}
    assert admin.post("/v1/adminusers", json={"Username": "Pat", **person}).status_code == 201
    clash = admin.post("/v1/buyers/shop/users", json={"Username": "pAT", **person})
    assert clash.status_code == 409
    assert error_of(clash)["ErrorCode"] == "User.UsernameMustBeUnique"
    assert error_of(clash)["Data"] == {"Field": "Username"}

    other = admin.post("/v1/buyers/shop/users", json={"ID": "o", "Username": "other", **person})
    assert other.status_code == 201  # the same email is fine
    rename = admin.patch("/v1/buyers/shop/users/o", json={"Username": "PAT"})
    assert rename.status_code == 409
    keep = admin.patch("/v1/buyers/shop/users/o", json={"Username": "Other"})
    assert keep.status_code == 200  # changing only the case of one's own name is allowed


def test_passwords_and_client_secrets_are_stored_as_argon2id_hashes(
    admin: AdminClient, committed_db: Engine
) -> None:
    person = {"ID": "pw", "Username": "pw", "FirstName": "P", "LastName": "W", "Email": "p@x.io"}
    admin.post("/v1/adminusers", json={**person, "Password": "first-password"})
    client_id = admin.post("/v1/apiclients", json={"AppName": "a", "ClientSecret": "s3cret"}).json[
        "ID"
    ]
    with Session(committed_db) as session:
        user = session.get(User, "pw")
        client = session.get(ApiClient, client_id)
        assert user is not None and client is not None
        assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
        assert hasher().verify(user.password_hash, "first-password")
        assert client.client_secret_hash is not None
        assert hasher().verify(client.client_secret_hash, "s3cret")

    admin.put("/v1/adminusers/pw", json={**person, "FirstName": "Changed"})
    with Session(committed_db) as session:
        stored = session.scalar(select(User.password_hash).where(User.id == "pw"))
        assert hasher().verify(stored, "first-password")  # PUT without Password keeps it

    admin.patch(f"/v1/apiclients/{client_id}", json={"ClientSecret": None})
    with Session(committed_db) as session:
        assert session.get(ApiClient, client_id).client_secret_hash is None  # type: ignore[union-attr]
