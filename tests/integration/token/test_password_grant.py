from __future__ import annotations

import httpx
import jwt
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.identity.passwords import PasswordHasher
from core.models import AuthEvent
from core.platform.settings import Argon2Parameters
from tests.factories import hasher, make_buyer, make_client, make_profile, make_user
from tests.integration.token.conftest import (
    PASSWORD,
    auth_outcomes,
    error_code,
    fresh_user,
    make_shop,
    password_form,
    post_token,
)


def test_a_buyer_user_signs_in_and_the_jwt_verifies_with_the_jwks_document_alone(
    data: Session, token_server: str
) -> None:
    shop = make_shop(data, access_token_duration=30)
    response = httpx.post(f"{token_server}/oauth/token", data=password_form(shop))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert "refresh_token" not in body
    assert response.headers["Cache-Control"] == "no-store"

    jwks = httpx.get(f"{token_server}/.well-known/jwks.json").json()
    token = body["access_token"]
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, key, algorithms=["ES256"], audience="otp-service", issuer="otp-service"
    )
    assert claims["usr"] == shop.user.username
    assert claims["cid"] == shop.client.id
    assert claims["usrtype"] == "buyer"
    assert sorted(claims["role"]) == ["MeAdmin", "Shopper"]
    assert claims["exp"] - claims["nbf"] == 30 * 60
    assert claims["jti"]


def test_scope_narrows_the_roles_and_a_scope_of_roles_not_held_is_refused(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    narrowed = post_token(token_client, password_form(shop, scope="Shopper BuyerAdmin"))
    assert narrowed.status_code == 200
    claims = jwt.decode(narrowed.json["access_token"], options={"verify_signature": False})
    assert claims["role"] == ["Shopper"]
    refused = post_token(token_client, password_form(shop, scope="BuyerAdmin"))
    assert error_code(refused) == "Auth.InsufficientRoles"
    assert refused.json["error"] == "invalid_grant"


def test_roles_come_from_buyer_and_user_assignments_and_marketplace_ones_reach_admins_only(
    data: Session, token_client: FlaskClient
) -> None:
    buyer = make_buyer(data)
    client = make_client(data, buyers=[buyer], allow_seller=True)
    shopper = make_user(data, buyer=buyer, password=PASSWORD)
    admin = make_user(data, password=PASSWORD)
    make_profile(data, roles=["FullAccess"], marketplace=True)
    make_profile(data, roles=["Shopper"], buyer=buyer)
    make_profile(data, roles=["BuyerReader"], user=admin)
    profile = make_profile(data, roles=["MeAdmin"], user=shopper)
    profile.custom_roles = ["ReorderApprover"]
    data.commit()

    def roles_of(username: str) -> list[str]:
        response = post_token(
            token_client,
            {
                "grant_type": "password",
                "client_id": client.id,
                "username": username,
                "password": PASSWORD,
            },
        )
        assert response.status_code == 200, response.json
        claims = jwt.decode(response.json["access_token"], options={"verify_signature": False})
        assert claims["usrtype"] in {"admin", "buyer"}
        return list(claims["role"])

    assert roles_of(shopper.username) == ["MeAdmin", "ReorderApprover", "Shopper"]
    assert roles_of(admin.username) == ["BuyerReader", "FullAccess"]


def test_full_access_grants_any_requested_api_role_but_not_a_custom_one(
    data: Session, token_client: FlaskClient
) -> None:
    admin = make_user(data, password=PASSWORD)
    client = make_client(data, allow_seller=True)
    make_profile(data, roles=["FullAccess"], user=admin)
    data.commit()
    form = {
        "grant_type": "password",
        "client_id": client.id,
        "username": admin.username,
        "password": PASSWORD,
        "scope": "BuyerReader SomeCustomRole",
    }
    response = post_token(token_client, form)
    claims = jwt.decode(response.json["access_token"], options={"verify_signature": False})
    assert claims["role"] == ["BuyerReader"]


def test_a_user_not_allowed_on_the_client_is_refused_for_insufficient_roles(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    other_client = make_client(data, buyers=[make_buyer(data)])
    data.commit()
    response = post_token(token_client, password_form(shop, client_id=other_client.id))
    assert error_code(response) == "Auth.InsufficientRoles"


def test_an_inactive_user_or_buyer_is_told_so_only_after_the_right_password(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    shop.user.active = False
    data.commit()
    assert error_code(post_token(token_client, password_form(shop, "wrong"))) == (
        "Auth.InvalidUsernameOrPassword"
    )
    assert error_code(post_token(token_client, password_form(shop))) == "Auth.UserNotActive"

    shop.user.active = True
    shop.buyer.active = False
    data.commit()
    assert error_code(post_token(token_client, password_form(shop))) == "Auth.UserNotActive"


def test_username_matches_whatever_its_case(data: Session, token_client: FlaskClient) -> None:
    shop = make_shop(data, user_fields={"username": "Alice.Shopper"})
    form = password_form(shop) | {"username": "aLICE.sHOPPER"}
    assert post_token(token_client, form).status_code == 200


def test_a_client_with_a_secret_needs_it_for_the_password_grant(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data, client_secret_hash=hasher().hash("client-secret-1"))
    missing = post_token(token_client, password_form(shop))
    assert error_code(missing) == "Auth.InvalidClientSecret"
    assert missing.json["error"] == "invalid_client"
    wrong = post_token(token_client, password_form(shop, client_secret="nope"))
    assert error_code(wrong) == "Auth.InvalidClientSecret"
    right = post_token(token_client, password_form(shop, client_secret="client-secret-1"))
    assert right.status_code == 200


def test_a_hash_with_outdated_parameters_is_upgraded_on_sign_in(
    data: Session, token_client: FlaskClient
) -> None:
    old_hasher = PasswordHasher(Argon2Parameters(memory_cost=47104, time_cost=1))
    shop = make_shop(data, user_fields={"password_hash": old_hasher.hash(PASSWORD)})
    assert post_token(token_client, password_form(shop)).status_code == 200
    upgraded = fresh_user(data, shop.user).password_hash
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert post_token(token_client, password_form(shop)).status_code == 200


def test_a_success_resets_the_failure_counter_and_every_attempt_is_audited(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    for _ in range(3):
        post_token(token_client, password_form(shop, "wrong"))
    assert fresh_user(data, shop.user).failed_login_attempts == 3
    assert post_token(token_client, password_form(shop)).status_code == 200
    user = fresh_user(data, shop.user)
    assert user.failed_login_attempts == 0
    assert user.last_login_at is not None
    assert auth_outcomes(data, shop.user) == ["Auth.InvalidUsernameOrPassword"] * 3 + ["success"]
    events = data.scalars(select(AuthEvent).where(AuthEvent.user_id == shop.user.id)).all()
    assert {(event.grant_type, event.method, event.client_id) for event in events} == {
        ("password", "password", shop.client.id)
    }
    assert all(event.ip == "127.0.0.1" for event in events)
