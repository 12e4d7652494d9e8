from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AuthEvent, RefreshToken
from tests.doubles import FrozenClock
from tests.factories import hasher, make_buyer, make_client, make_profile, make_user
from tests.integration.token.conftest import (
    PASSWORD,
    Shop,
    auth_outcomes,
    error_code,
    make_shop,
    password_form,
    post_token,
)

SECRET = "client-secret-for-tests"


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _context_client(session: Session, **fields: object) -> tuple[Shop, str]:
    shop = make_shop(session)
    client = make_client(
        session,
        buyers=[shop.buyer],
        client_secret_hash=hasher().hash(SECRET),
        default_context_username=shop.user.username,
        **fields,
    )
    session.commit()
    return Shop(buyer=shop.buyer, client=client, user=shop.user), client.id


def test_client_credentials_issue_a_token_for_the_default_context_user(
    data: Session, token_client: FlaskClient
) -> None:
    shop, client_id = _context_client(data, refresh_token_duration=60)
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": SECRET}
    response = post_token(token_client, form)
    assert response.status_code == 200, response.json
    claims = _claims(response.json["access_token"])
    assert (claims["usr"], claims["cid"], claims["usrtype"]) == (
        shop.user.username,
        client_id,
        "buyer",
    )
    assert "refresh_token" not in response.json  # RFC 6749 4.4.3: none for this grant
    events = auth_outcomes(data, shop.user)
    assert events == ["success"]


def test_client_credentials_need_the_right_secret_and_a_default_context_user(
    data: Session, token_client: FlaskClient
) -> None:
    _, client_id = _context_client(data)
    wrong = post_token(
        token_client,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
    )
    assert error_code(wrong) == "Auth.InvalidClientSecret"
    assert wrong.json["error"] == "invalid_client"
    missing = post_token(token_client, {"grant_type": "client_credentials", "client_id": client_id})
    assert error_code(missing) == "Auth.InvalidClientSecret"

    public = make_client(data, allow_any_buyer=True)
    no_context = make_client(data, client_secret_hash=hasher().hash(SECRET))
    data.commit()
    no_secret = post_token(
        token_client,
        {"grant_type": "client_credentials", "client_id": public.id, "client_secret": SECRET},
    )
    assert error_code(no_secret) == "Auth.InvalidClientSecret"
    no_user = post_token(
        token_client,
        {"grant_type": "client_credentials", "client_id": no_context.id, "client_secret": SECRET},
    )
    assert error_code(no_user) == "Auth.NoDefaultContextUser"
    assert no_user.json["error"] == "unauthorized_client"
    unknown = post_token(token_client, {"grant_type": "client_credentials", "client_id": "nope"})
    assert error_code(unknown) == "ApiClient.InvalidClientID"


def test_a_refresh_token_is_rotated_on_every_use_and_the_old_one_stops_working(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data, refresh_token_duration=60)
    first = post_token(token_client, password_form(shop, scope="Shopper"))
    assert first.status_code == 200
    old_refresh = first.json["refresh_token"]
    form = {"grant_type": "refresh_token", "client_id": shop.client.id}

    second = post_token(token_client, form | {"refresh_token": old_refresh})
    assert second.status_code == 200, second.json
    assert _claims(second.json["access_token"])["role"] == ["Shopper"]
    new_refresh = second.json["refresh_token"]
    assert new_refresh != old_refresh
    third = post_token(token_client, form | {"refresh_token": new_refresh})
    assert third.status_code == 200
    newest_refresh = third.json["refresh_token"]

    stored = data.scalars(select(RefreshToken.token_hash)).all()
    assert len(stored) == 3
    assert all(old_refresh.encode() not in token_hash for token_hash in stored)

    # Replaying a used token ends its whole family (RFC 9700 section 4.14): the token
    # issued in its place stops working too, whoever holds it.
    reused = post_token(token_client, form | {"refresh_token": old_refresh})
    assert error_code(reused) == "Auth.InvalidRefreshToken"
    after_replay = post_token(token_client, form | {"refresh_token": newest_refresh})
    assert error_code(after_replay) == "Auth.InvalidRefreshToken"
    # A new sign-in starts a new family, untouched by the old one's end.
    fresh = post_token(token_client, password_form(shop)).json["refresh_token"]
    assert post_token(token_client, form | {"refresh_token": fresh}).status_code == 200

    events = data.execute(
        select(AuthEvent.user_id, AuthEvent.method, AuthEvent.outcome)
        .where(AuthEvent.client_id == shop.client.id)
        .order_by(AuthEvent.id)
    ).all()
    user_id = shop.user.id
    assert [tuple(event) for event in events] == [
        (user_id, "password", "success"),
        (user_id, "refresh", "success"),
        (user_id, "refresh", "success"),
        (None, "refresh", "Auth.InvalidRefreshToken"),  # a refused token names no user
        (None, "refresh", "Auth.InvalidRefreshToken"),
        (user_id, "password", "success"),
        (user_id, "refresh", "success"),
    ]


def test_a_refresh_token_works_only_on_its_client_and_before_it_expires(
    data: Session, token_client: FlaskClient, clock: FrozenClock
) -> None:
    shop = make_shop(data, refresh_token_duration=5)
    other = make_client(data, buyers=[shop.buyer], refresh_token_duration=60)
    data.commit()
    refresh = post_token(token_client, password_form(shop)).json["refresh_token"]
    elsewhere = post_token(
        token_client,
        {"grant_type": "refresh_token", "client_id": other.id, "refresh_token": refresh},
    )
    assert error_code(elsewhere) == "Auth.InvalidRefreshToken"
    clock.advance(5 * 60)
    expired = post_token(
        token_client,
        {"grant_type": "refresh_token", "client_id": shop.client.id, "refresh_token": refresh},
    )
    assert error_code(expired) == "Auth.InvalidRefreshToken"


def test_no_refresh_token_without_a_refresh_duration_and_none_is_accepted(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data, refresh_token_duration=0)
    response = post_token(token_client, password_form(shop))
    assert "refresh_token" not in response.json
    refused = post_token(
        token_client,
        {"grant_type": "refresh_token", "client_id": shop.client.id, "refresh_token": "abc"},
    )
    assert error_code(refused) == "Auth.InvalidRefreshToken"


def test_a_refresh_drops_roles_the_user_has_lost_and_refuses_a_deactivated_user(
    data: Session, token_client: FlaskClient
) -> None:
    buyer = make_buyer(data)
    client = make_client(data, buyers=[buyer], refresh_token_duration=60)
    user = make_user(data, buyer=buyer, password=PASSWORD)
    make_profile(data, roles=["Shopper"], buyer=buyer)
    admin_profile = make_profile(data, roles=["BuyerReader"], user=user)
    data.commit()
    first = post_token(
        token_client,
        {
            "grant_type": "password",
            "client_id": client.id,
            "username": user.username,
            "password": PASSWORD,
        },
    )
    assert sorted(_claims(first.json["access_token"])["role"]) == ["BuyerReader", "Shopper"]  # type: ignore[arg-type]
    data.delete(admin_profile)
    data.commit()
    form = {"grant_type": "refresh_token", "client_id": client.id}
    second = post_token(token_client, form | {"refresh_token": first.json["refresh_token"]})
    assert _claims(second.json["access_token"])["role"] == ["Shopper"]

    user.active = False
    data.commit()
    third = post_token(token_client, form | {"refresh_token": second.json["refresh_token"]})
    assert error_code(third) == "Auth.UserNotActive"


def test_concurrent_refreshes_with_one_token_succeed_once(data: Session, token_server: str) -> None:
    shop = make_shop(data, refresh_token_duration=60)
    with httpx.Client() as http:
        refresh = http.post(f"{token_server}/oauth/token", data=password_form(shop)).json()[
            "refresh_token"
        ]
    form = {"grant_type": "refresh_token", "client_id": shop.client.id, "refresh_token": refresh}

    def attempt(_: int) -> int:
        with httpx.Client(timeout=60) as http:
            return http.post(f"{token_server}/oauth/token", data=form).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(attempt, range(10)))
    assert statuses == [200] + [400] * 9
