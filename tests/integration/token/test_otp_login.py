from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.auth import otp_login
from core.models import OneTimePassword
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import make_client, make_otp
from tests.integration.token.conftest import (
    auth_outcomes,
    error_code,
    fresh_user,
    make_shop,
    password_form,
    post_token,
)

INVALID = "Auth.InvalidUsernameOrPassword"
ONE_STATEMENT = "one statement"
TRANSACTION = "transaction"


@pytest.fixture(autouse=True, params=[ONE_STATEMENT, TRANSACTION])
def otp_sign_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both ways an OTP sign-in is written: PostgreSQL's one
    statement, and the transaction that SQLite (otp dev) and refused users take."""
    if request.param == TRANSACTION:
        monkeypatch.setattr(otp_login, "ONE_STATEMENT_DIALECTS", frozenset())
    return str(request.param)


def test_an_otp_grant_writes_in_one_statement_on_postgresql(
    data: Session,
    token_client: FlaskClient,
    token_runtime: Runtime,
    otp_sign_in: str,
) -> None:
    shop = make_shop(data)
    now = token_runtime.clock.now()
    _, code = make_otp(data, shop.user, shop.client, token_runtime.settings, now=now)
    data.commit()
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]).split(None, 1)[0].upper())

    event.listen(token_runtime.engine, "before_cursor_execute", seen)
    try:
        assert post_token(token_client, password_form(shop, code)).status_code == 200
    finally:
        event.remove(token_runtime.engine, "before_cursor_execute", seen)

    # the grant's facts, then the writes: one WITH statement, or a transaction of three
    if otp_sign_in == ONE_STATEMENT:
        assert statements == ["SELECT", "WITH"]
    else:
        assert statements == ["SELECT", "UPDATE", "UPDATE", "INSERT"]
    assert auth_outcomes(data, shop.user) == ["success"]


def _used_at(session: Session, otp: OneTimePassword) -> object:
    session.expire_all()
    return session.scalar(select(OneTimePassword.used_at).where(OneTimePassword.id == otp.id))


def test_an_otp_signs_in_once_and_a_second_use_fails_like_a_wrong_password(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data)
    otp, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    assert post_token(token_client, password_form(shop, code)).status_code == 200
    assert _used_at(data, otp) == clock.now()
    assert error_code(post_token(token_client, password_form(shop, code))) == INVALID
    assert auth_outcomes(data, shop.user) == ["success", INVALID]


def test_twenty_concurrent_requests_with_one_otp_get_exactly_one_token(
    data: Session, token_server: str, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 100})
    _, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    form = password_form(shop, code)

    def attempt(_: int) -> int:
        with httpx.Client(timeout=60) as http:
            return http.post(f"{token_server}/oauth/token", data=form).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = Counter(pool.map(attempt, range(20)))

    assert statuses == {200: 1, 400: 19}
    assert Counter(auth_outcomes(data, shop.user)) == {"success": 1, INVALID: 19}
    # Every loser is counted after the winner reset the counter: none is lost to it.
    assert fresh_user(data, shop.user).failed_login_attempts == 19


def test_an_otp_fails_after_it_expires(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data)
    _, code = make_otp(
        data,
        shop.user,
        shop.client,
        token_settings,
        now=clock.now(),
        lifetime=timedelta(minutes=10),
    )
    data.commit()
    clock.advance(600)
    assert error_code(post_token(token_client, password_form(shop, code))) == INVALID


def test_an_otp_requested_for_one_client_fails_on_another(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data)
    other_client = make_client(data, buyers=[shop.buyer])
    _, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    on_other = post_token(token_client, password_form(shop, code, client_id=other_client.id))
    assert error_code(on_other) == INVALID
    assert post_token(token_client, password_form(shop, code)).status_code == 200


def test_wrong_otps_count_toward_lockout_and_a_locked_account_refuses_a_valid_otp(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 3})
    otp, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    wrong = str((int(code) + 1) % 10**token_settings.otp_length).zfill(len(code))
    for _ in range(3):
        assert error_code(post_token(token_client, password_form(shop, wrong))) == INVALID
    assert fresh_user(data, shop.user).failed_login_attempts == 3
    assert error_code(post_token(token_client, password_form(shop, code))) == "Auth.LockedOut"
    assert _used_at(data, otp) is not None  # voided when the lock engaged
    assert set(auth_outcomes(data, shop.user)) == {INVALID, "Auth.LockedOut"}


def test_an_otp_sign_in_consumes_the_users_other_otps_for_that_client_only(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data)
    other_client = make_client(data, buyers=[shop.buyer])
    codes = [
        make_otp(data, shop.user, shop.client, token_settings, now=clock.now())[1] for _ in range(3)
    ]
    _, other_code = make_otp(data, shop.user, other_client, token_settings, now=clock.now())
    data.commit()
    assert post_token(token_client, password_form(shop, codes[1])).status_code == 200
    for code in (codes[0], codes[2]):
        assert error_code(post_token(token_client, password_form(shop, code))) == INVALID
    on_other = post_token(token_client, password_form(shop, other_code, client_id=other_client.id))
    assert on_other.status_code == 200


def test_a_wrong_otp_counts_and_leaves_the_users_otps_usable(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data)
    first, first_code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    _, second_code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    wrong = str((int(first_code) + 1) % 10**token_settings.otp_length).zfill(len(first_code))
    assert wrong != second_code
    assert error_code(post_token(token_client, password_form(shop, wrong))) == INVALID
    assert fresh_user(data, shop.user).failed_login_attempts == 1
    assert _used_at(data, first) is None
    assert post_token(token_client, password_form(shop, second_code)).status_code == 200
    assert fresh_user(data, shop.user).failed_login_attempts == 0
    assert _used_at(data, first) is not None  # the sign-in used up the other one
    assert auth_outcomes(data, shop.user) == [INVALID, "success"]


class TestAfterTheMaximumFailedAttempts:
    @pytest.fixture
    def token_settings(self, settings: Settings) -> Settings:
        return settings.replace(otp_max_failed_attempts=3)

    def test_the_users_outstanding_otps_are_void(
        self,
        data: Session,
        token_client: FlaskClient,
        token_settings: Settings,
        clock: FrozenClock,
    ) -> None:
        shop = make_shop(data, password_config={"AllowedFailedAttempts": 10})
        otp, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
        data.commit()
        for _ in range(2):
            post_token(token_client, password_form(shop, "wrong"))
        assert _used_at(data, otp) is None
        post_token(token_client, password_form(shop, "wrong"))
        assert _used_at(data, otp) is not None
        assert error_code(post_token(token_client, password_form(shop, code))) == INVALID


def test_a_password_shaped_like_an_otp_still_works_as_a_password(
    data: Session, token_client: FlaskClient
) -> None:
    from tests.factories import hasher

    shop = make_shop(data, user_fields={"password_hash": hasher().hash("12345678")})
    assert post_token(token_client, password_form(shop, "12345678")).status_code == 200
    assert auth_outcomes(data, shop.user) == ["success"]


def test_an_inactive_users_valid_otp_is_refused_and_left_unused(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data, user_fields={"active": False})
    otp, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    assert error_code(post_token(token_client, password_form(shop, code))) == "Auth.UserNotActive"
    assert _used_at(data, otp) is None
    assert fresh_user(data, shop.user).failed_login_attempts == 0


def test_unknown_user_wrong_password_and_wrong_expired_or_used_otps_answer_identically(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data)
    _, used = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    _, expiring = make_otp(
        data,
        shop.user,
        shop.client,
        token_settings,
        now=clock.now(),
        lifetime=timedelta(seconds=30),
    )
    data.commit()
    assert post_token(token_client, password_form(shop, used)).status_code == 200
    clock.advance(31)
    answers = [
        post_token(token_client, password_form(shop) | {"username": "nobody-at-all"}),
        post_token(token_client, password_form(shop) | {"username": "nobody", "password": used}),
        post_token(token_client, password_form(shop, "wrong password")),
        post_token(token_client, password_form(shop, "00000000")),
        post_token(token_client, password_form(shop, expiring)),
        post_token(token_client, password_form(shop, used)),
    ]
    bodies = {(answer.status_code, answer.get_data(as_text=True)) for answer in answers}
    assert len(bodies) == 1
    status, body = bodies.pop()
    assert status == 400
    assert INVALID in body


def test_under_timed_locks_an_outstanding_otp_never_gets_more_than_the_allowed_guesses(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    """AllowedFailedAttempts below OTP_MAX_FAILED_ATTEMPTS with a timed lock: the counter
    restarts each time the lock lapses, so the lock itself must void the codes."""
    allowed = 3
    assert allowed < token_settings.otp_max_failed_attempts
    shop = make_shop(data, password_config={"AllowedFailedAttempts": allowed, "LockoutDuration": 1})
    otp, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    wrong = str((int(code) + 1) % 10**token_settings.otp_length).zfill(len(code))
    for _ in range(allowed):
        assert error_code(post_token(token_client, password_form(shop, wrong))) == INVALID
    assert _used_at(data, otp) is not None
    clock.advance(61)  # the lock lapses; the counter starts again from zero
    assert error_code(post_token(token_client, password_form(shop, code))) == INVALID


def test_an_otp_sign_in_on_a_client_with_refresh_tokens_stores_one_that_works(
    data: Session, token_client: FlaskClient, token_settings: Settings, clock: FrozenClock
) -> None:
    shop = make_shop(data, refresh_token_duration=60)
    _, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()

    signed_in = post_token(token_client, password_form(shop, code))
    assert signed_in.status_code == 200
    form = {"grant_type": "refresh_token", "client_id": shop.client.id}
    refreshed = post_token(token_client, form | {"refresh_token": signed_in.json["refresh_token"]})

    assert refreshed.status_code == 200, refreshed.json
    assert auth_outcomes(data, shop.user) == ["success", "success"]
