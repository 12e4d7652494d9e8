from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.models import User
from tests.doubles import FrozenClock
from tests.integration.token.conftest import (
    auth_outcomes,
    error_code,
    fresh_user,
    make_shop,
    password_form,
    post_token,
)


def _unlock_as_an_admin_would(session: Session, user: User) -> None:
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(failed_login_attempts=0, locked=False, locked_until=None)
    )
    session.commit()


def test_thirty_concurrent_wrong_passwords_lock_the_account_and_no_failure_is_lost(
    data: Session, token_server: str
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 5, "LockoutDuration": 2})
    form = password_form(shop, "wrong password")

    def attempt(_: int) -> str:
        with httpx.Client(timeout=60) as http:
            response = http.post(f"{token_server}/oauth/token", data=form)
        assert response.status_code == 400, response.text
        return str(response.json()["Errors"][0]["ErrorCode"])

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = Counter(pool.map(attempt, range(30)))

    user = fresh_user(data, shop.user)
    audit = Counter(auth_outcomes(data, shop.user))
    assert user.failed_login_attempts == 5
    assert user.locked_until is not None
    assert audit == {"Auth.InvalidUsernameOrPassword": 5, "Auth.LockedOut": 25}
    assert answers == audit


def test_while_locked_the_right_password_fails_without_counting_and_works_after_unlock(
    data: Session, token_client: FlaskClient, clock: FrozenClock
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 3, "LockoutDuration": 2})
    for _ in range(3):
        post_token(token_client, password_form(shop, "wrong"))
    locked = fresh_user(data, shop.user)
    assert locked.failed_login_attempts == 3
    assert locked.locked_until is not None

    clock.advance(60)
    assert error_code(post_token(token_client, password_form(shop))) == "Auth.LockedOut"
    assert error_code(post_token(token_client, password_form(shop, "wrong"))) == "Auth.LockedOut"
    still = fresh_user(data, shop.user)
    assert still.failed_login_attempts == 3
    assert still.locked_until == locked.locked_until  # not extended

    _unlock_as_an_admin_would(data, shop.user)
    assert post_token(token_client, password_form(shop)).status_code == 200


def test_a_timed_lock_lifts_by_itself_and_counting_starts_again_from_zero(
    data: Session, token_client: FlaskClient, clock: FrozenClock
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 2, "LockoutDuration": 1})
    for _ in range(2):
        post_token(token_client, password_form(shop, "wrong"))
    clock.advance(59)
    assert error_code(post_token(token_client, password_form(shop))) == "Auth.LockedOut"
    clock.advance(2)
    assert error_code(post_token(token_client, password_form(shop, "wrong"))) == (
        "Auth.InvalidUsernameOrPassword"
    )
    after_lift = fresh_user(data, shop.user)
    assert after_lift.failed_login_attempts == 1
    assert after_lift.locked_until is None
    assert post_token(token_client, password_form(shop)).status_code == 200


def test_a_lockout_duration_of_zero_locks_until_an_admin_unlocks(
    data: Session, token_client: FlaskClient, clock: FrozenClock
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 2, "LockoutDuration": 0})
    for _ in range(2):
        post_token(token_client, password_form(shop, "wrong"))
    assert fresh_user(data, shop.user).locked is True
    clock.advance(7 * 86400)
    assert error_code(post_token(token_client, password_form(shop))) == "Auth.LockedOut"
    _unlock_as_an_admin_would(data, shop.user)
    assert post_token(token_client, password_form(shop)).status_code == 200


def test_without_a_password_config_ten_failures_lock_the_account(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    codes = [error_code(post_token(token_client, password_form(shop, "x"))) for _ in range(11)]
    assert codes == ["Auth.InvalidUsernameOrPassword"] * 10 + ["Auth.LockedOut"]
