"""The attacks that once worked, replayed against real ``otp api`` and ``otp token``.

Every token comes from the running token handler's /oauth/token. Each test fails if the
attack it replays comes back. Revocations are polled for until REVOCATION_BOUND has
passed (plus slack for a loaded machine): the bound itself is proved with a controlled
clock in tests/integration/admin/test_sessions.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.auth.sessions import REVOCATION_BOUND
from core.models import Buyer, OneTimePassword, SecurityProfileAssignment
from core.platform.settings import load_settings
from tests.authz_world import BUYER_A, BUYER_B, PASSWORD, VICTIM, World, build_world, sign_in
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_buyer, make_client, make_otp, make_profile, make_user
from tests.processes import free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e

SLACK_SECONDS = 10.0  # a loaded 2-core machine; the bound is REVOCATION_BOUND
PERSON = {"FirstName": "F", "LastName": "L", "Email": "p@example.com"}


@dataclass(frozen=True)
class Stack:
    api: str
    token: str

    def post_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = httpx.post(f"{self.token}/oauth/token", data=form)
        return response.status_code, response.json()

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, f"{self.api}{path}", headers=headers, **kwargs)


@pytest.fixture(scope="module")
def stack(database_url: str, broker_url: str, jwt_private_key: str) -> Iterator[Stack]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTP_")}
    env.update(
        OTP_DATABASE_URL=database_url,
        OTP_BROKER_URL=broker_url,
        OTP_SECRET_KEY=TEST_SECRET_KEY,
        OTP_JWT_PRIVATE_KEY=jwt_private_key,
        OTP_LOG_FORMAT="json",
    )
    api_port, token_port = free_port(), free_port()
    api_command = otp_command("api", "--bind", f"127.0.0.1:{api_port}", "--workers", "2")
    token_command = otp_command("token", "--bind", f"127.0.0.1:{token_port}", "--workers", "1")
    with started(api_command, env=env) as api, started(token_command, env=env) as token:
        stack = Stack(f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{token_port}")
        wait_until_healthy(stack.api, api)
        wait_until_healthy(stack.token, token)
        yield stack


@pytest.fixture
def world(committed_db: Engine) -> World:
    return build_world(committed_db)


def token_for(stack: Stack, world: World, persona: str) -> str:
    return str(sign_in(stack.post_token, world, persona)["access_token"])


def password_form(world: World, username: str, password: str = PASSWORD) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": world.client_id,
        "username": username,
        "password": password,
    }


def refresh_form(world: World, refresh_token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": world.client_id,
        "refresh_token": refresh_token,
    }


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def eventually_refused(call: Callable[[], httpx.Response]) -> httpx.Response:
    """Poll until the api answers 401; fail if it still serves past the bound and slack."""
    deadline = time.monotonic() + REVOCATION_BOUND.total_seconds() + SLACK_SECONDS
    while True:
        response = call()
        if response.status_code == 401 or time.monotonic() > deadline:
            assert response.status_code == 401, response.text
            assert response.json()["Errors"][0]["ErrorCode"] == "InvalidToken"
            return response
        time.sleep(0.25)


def add_user(engine: Engine, username: str, roles: list[str], *, buyer: str | None = None) -> None:
    with Session(engine) as session, session.begin():
        owner = session.get(Buyer, buyer) if buyer else None
        user = make_user(session, buyer=owner, id=username, username=username, password=PASSWORD)
        make_profile(session, roles=roles, user=user)


# --- 1. user type -----------------------------------------------------------------------


def test_a_buyer_user_with_full_access_cannot_administer_the_marketplace(
    stack: Stack, world: World
) -> None:
    token = token_for(stack, world, "buyer_full_access")
    assert (claims(token)["usrtype"], claims(token)["role"]) == ("buyer", ["FullAccess"])
    for path in (
        "/v1/adminusers",
        "/v1/apiclients",
        "/v1/securityprofiles",
        "/v1/messagesenders",
        "/v1/integrations/deliveryconfig",
        "/v1/deliveries",
        "/v1/buyers",
    ):
        response = stack.call("GET", path, token)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["Errors"][0]["ErrorCode"] == "InsufficientRoles"
        assert "Items" not in response.json()
    # Its own buyer's users it may manage.
    assert stack.call("GET", f"/v1/buyers/{BUYER_A}/users", token).status_code == 200


# --- 2. buyer scope ---------------------------------------------------------------------


def test_a_buyer_admin_cannot_see_or_take_over_another_buyers_users(
    stack: Stack, world: World
) -> None:
    token = token_for(stack, world, "buyer_admin_other")  # an admin of buyer B
    users = f"/v1/buyers/{BUYER_A}/users"
    attempts = [
        stack.call("GET", users, token),
        stack.call("GET", f"/v1/buyers/{BUYER_A}", token),
        stack.call("GET", f"{users}/{VICTIM}", token),
        stack.call("PATCH", f"{users}/{VICTIM}", token, json={"Password": "taken-over-1"}),
    ]
    # Exactly what a buyer that does not exist answers.
    seller = token_for(stack, world, "seller_admin")
    absent = stack.call("GET", "/v1/buyers/no-such-buyer/users", seller)
    assert absent.status_code == 404
    absent_error = absent.json()["Errors"][0]
    for response in attempts:
        assert response.status_code == 404, response.text
        error = response.json()["Errors"][0]
        assert error == {
            key: str(value).replace("no-such-buyer", BUYER_A) if key == "Message" else value
            for key, value in absent_error.items()
        } | {"Data": {"ObjectType": "Buyer", "ObjectID": BUYER_A}}
    status, body = stack.post_token(password_form(world, VICTIM, "taken-over-1"))
    assert status == 400, body  # the password did not change
    # Its own buyer it still administers.
    assert stack.call("GET", f"/v1/buyers/{BUYER_B}/users", token).status_code == 200


# --- 3. no self-granted roles -----------------------------------------------------------


def test_narrow_roles_cannot_grant_themselves_more(
    stack: Stack, world: World, committed_db: Engine
) -> None:
    add_user(committed_db, "setter", ["SetSecurityProfile"])
    add_user(committed_db, "profiler", ["SecurityProfileAdmin"])
    add_user(committed_db, "useradmin", ["AdminUserAdmin"])
    seller = token_for(stack, world, "seller_admin")
    full = stack.call(
        "POST",
        "/v1/securityprofiles",
        seller,
        json={"ID": "fa", "Name": "FA", "Roles": ["FullAccess"]},
    )
    assert full.status_code == 201

    setter = str(stack.post_token(password_form(world, "setter"))[1]["access_token"])
    self_assign = stack.call(
        "POST",
        "/v1/securityprofiles/assignments",
        setter,
        json={"SecurityProfileID": "fa", "UserID": "setter"},
    )
    assert self_assign.status_code == 403, self_assign.text
    assert self_assign.json()["Errors"][0]["ErrorCode"] == "InsufficientRoles"
    status, body = stack.post_token(password_form(world, "setter"))
    assert status == 200 and "FullAccess" not in claims(body["access_token"])["role"]

    profiler = str(stack.post_token(password_form(world, "profiler"))[1]["access_token"])
    with Session(committed_db) as session:
        own_profile = session.scalar(
            select(SecurityProfileAssignment.security_profile_id).where(
                SecurityProfileAssignment.user_id == "profiler"
            )
        )
    widen = stack.call(
        "PATCH",
        f"/v1/securityprofiles/{own_profile}",
        profiler,
        json={"Roles": ["SecurityProfileAdmin", "FullAccess"]},
    )
    assert widen.status_code == 403, widen.text
    status, body = stack.post_token(password_form(world, "profiler"))
    assert claims(body["access_token"])["role"] == ["SecurityProfileAdmin"]

    useradmin = str(stack.post_token(password_form(world, "useradmin"))[1]["access_token"])
    for method, body_json in (("PATCH", {"Password": "taken-over-2"}), ("DELETE", None)):
        response = stack.call(method, "/v1/adminusers/seller_admin", useradmin, json=body_json)
        assert response.status_code == 403, response.text
    status, _ = stack.post_token(password_form(world, "seller_admin", "taken-over-2"))
    assert status == 400
    # A user holding nothing the caller lacks it may still manage.
    assert (
        stack.call(
            "PATCH", "/v1/adminusers/victim-admin", useradmin, json={"Password": "reset-pass-1"}
        ).status_code
        == 200
    )


# --- 4. revocable sessions --------------------------------------------------------------


def test_deleting_or_deactivating_a_user_or_client_ends_its_access_tokens(
    stack: Stack, world: World, committed_db: Engine
) -> None:
    add_user(committed_db, "dora", ["AdminUserReader"])
    add_user(committed_db, "dina", ["AdminUserReader"])
    add_user(committed_db, "carl", ["AdminUserReader"])
    seller = token_for(stack, world, "seller_admin")
    dora = str(stack.post_token(password_form(world, "dora"))[1]["access_token"])
    dina = str(stack.post_token(password_form(world, "dina"))[1]["access_token"])
    carl = str(stack.post_token(password_form(world, "carl"))[1]["access_token"])
    for token in (dora, dina, carl):
        assert stack.call("GET", "/v1/adminusers", token).status_code == 200

    assert stack.call("DELETE", "/v1/adminusers/dora", seller).status_code == 204
    eventually_refused(lambda: stack.call("GET", "/v1/adminusers", dora))
    # The username comes back as someone else: the old token does not speak for them.
    reborn = stack.call(
        "POST", "/v1/adminusers", seller, json={"ID": "dora-2", "Username": "dora", **PERSON}
    )
    assert reborn.status_code == 201
    assert stack.call("GET", "/v1/me", dora).status_code == 401

    deactivate = stack.call("PATCH", "/v1/adminusers/dina", seller, json={"Active": False})
    assert deactivate.status_code == 200
    eventually_refused(lambda: stack.call("GET", "/v1/me", dina))

    client = stack.call(
        "PATCH", f"/v1/apiclients/{world.client_id}", seller, json={"Active": False}
    )
    assert client.status_code == 200
    eventually_refused(lambda: stack.call("GET", "/v1/adminusers", carl))


def test_password_resets_and_revoke_user_tokens_end_access_and_refresh_tokens(
    stack: Stack, world: World, committed_db: Engine
) -> None:
    add_user(committed_db, "rita", ["AdminUserReader"])
    add_user(committed_db, "bob", ["Shopper", "MeAdmin"], buyer=BUYER_A)
    add_user(committed_db, "pam", ["AdminUserReader"])
    seller = token_for(stack, world, "seller_admin")
    sessions = {
        name: stack.post_token(password_form(world, name))[1] for name in ("rita", "bob", "pam")
    }
    revocations = [
        ("DELETE", "/v1/adminusers/rita/tokens", None, "rita"),
        ("DELETE", f"/v1/buyers/{BUYER_A}/users/bob/tokens", None, "bob"),
        ("PATCH", "/v1/adminusers/pam", {"Password": "a-new-password-1"}, "pam"),
    ]
    for method, path, body, name in revocations:
        response = stack.call(method, path, seller, json=body)
        assert response.status_code in {200, 204}, response.text
        access = sessions[name]["access_token"]
        eventually_refused(lambda access=access: stack.call("GET", "/v1/me", access))
        status, refused = stack.post_token(refresh_form(world, sessions[name]["refresh_token"]))
        assert (status, refused["Errors"][0]["ErrorCode"]) == (400, "Auth.InvalidRefreshToken")
    # Signing in again works at once, with the new password where it changed.
    status, body = stack.post_token(password_form(world, "pam", "a-new-password-1"))
    assert status == 200
    assert stack.call("GET", "/v1/me", body["access_token"]).status_code == 200


def test_replaying_a_rotated_refresh_token_ends_the_whole_family(
    stack: Stack, world: World
) -> None:
    first = sign_in(stack.post_token, world, "shopper")
    status, second = stack.post_token(refresh_form(world, first["refresh_token"]))
    assert status == 200
    status, _ = stack.post_token(refresh_form(world, first["refresh_token"]))  # the replay
    assert status == 400
    status, after = stack.post_token(refresh_form(world, second["refresh_token"]))
    assert (status, after["Errors"][0]["ErrorCode"]) == (400, "Auth.InvalidRefreshToken")


# --- 5. least privilege from the start --------------------------------------------------


def test_bootstrap_gives_full_access_to_its_admin_only(
    stack: Stack, committed_db: Engine, database_url: str
) -> None:
    env = {**os.environ, "OTP_DATABASE_URL": database_url}
    result = subprocess.run(
        otp_command("bootstrap", "--username", "ops", "--password", "s3cret-pass-1"),
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    client_id = json.loads(result.stdout)["ClientID"]

    def sign_in_as(username: str, password: str) -> tuple[int, dict[str, Any]]:
        return stack.post_token(
            {
                "grant_type": "password",
                "client_id": client_id,
                "username": username,
                "password": password,
            }
        )

    status, ops = sign_in_as("ops", "s3cret-pass-1")
    assert status == 200 and claims(ops["access_token"])["role"] == ["FullAccess"]
    later = stack.call(
        "POST",
        "/v1/adminusers",
        ops["access_token"],
        json={"ID": "later", "Username": "later", "Password": "later-pass-1", **PERSON},
    )
    assert later.status_code == 201
    status, body = sign_in_as("later", "later-pass-1")
    # No role reaches the later admin: refused, instead of a FullAccess token.
    assert (status, body["Errors"][0]["ErrorCode"]) == (400, "Auth.InsufficientRoles")


# --- 6. lockout voids outstanding OTPs --------------------------------------------------


def test_a_timed_lock_voids_the_outstanding_otps(stack: Stack, committed_db: Engine) -> None:
    settings = load_settings({"OTP_SECRET_KEY": TEST_SECRET_KEY})
    assert settings.otp_max_failed_attempts > 3
    with Session(committed_db, expire_on_commit=False) as session, session.begin():
        buyer = make_buyer(session)
        client = make_client(session, buyers=[buyer])
        user = make_user(session, buyer=buyer, password=PASSWORD)
        make_profile(
            session,
            roles=["Shopper"],
            buyer=buyer,
            password_config={"AllowedFailedAttempts": 3, "LockoutDuration": 1},
        )
        otp, code = make_otp(session, user, client, settings)
    form = {"grant_type": "password", "client_id": client.id, "username": user.username}
    wrong = str((int(code) + 1) % 10 ** len(code)).zfill(len(code))
    for _ in range(3):
        assert stack.post_token(form | {"password": wrong})[0] == 400
    with Session(committed_db) as session:
        used_at = session.scalar(
            select(OneTimePassword.used_at).where(OneTimePassword.id == otp.id)
        )
    assert used_at is not None  # void from the moment the lock engaged
    seller_world = build_world(committed_db)
    seller = token_for(stack, seller_world, "seller_admin")
    unlock = stack.call("POST", f"/v1/buyers/{buyer.id}/users/{user.id}/unlock", seller)
    assert unlock.status_code == 200
    status, body = stack.post_token(form | {"password": code})
    assert (status, body["Errors"][0]["ErrorCode"]) == (400, "Auth.InvalidUsernameOrPassword")
