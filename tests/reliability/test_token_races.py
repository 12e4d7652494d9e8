"""Races at the token handler: one OTP, many logins; many wrong guesses, one lockout."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import ApiClient, Buyer, OneTimePassword, User
from core.platform.settings import load_settings
from tests.factories import make_otp, make_user
from tests.reliability.cluster import SERVICE_SECRET_KEY, http_service, running
from tests.reliability.conftest import Rig
from tests.reliability.load import Answer, Load, error_code, token_request
from tests.reliability.scale import scaled

ROUNDS = scaled(full=200, ci=25)
CONTENDERS = 20
WRONG_GUESSES = 100
THRESHOLD = 10
PASSWORD = "the right password"
# The OTP-relevant settings the token process runs with (same key, default length).
SERVICE_SETTINGS = load_settings({"OTP_SECRET_KEY": SERVICE_SECRET_KEY})


@pytest.mark.timeout(scaled(full=1800, ci=300))
def test_twenty_concurrent_logins_with_one_otp_succeed_exactly_once_in_every_round(
    rig: Rig,
) -> None:
    market = rig.seed(users=ROUNDS, prefix="race")
    with Session(rig.engine) as session, session.begin():
        client = session.get_one(ApiClient, market.client_id)
        issued = []
        for name in market.usernames:
            user = session.get_one(User, market.user_ids[name])
            _otp, code = make_otp(session, user, client, SERVICE_SETTINGS)
            issued.append((name, code))
    rig.leak_guard.saw_codes(code for _name, code in issued)
    token = http_service(
        "token", rig.env(proxied_database=False, proxied_broker=False), workers=2, threads=16
    )
    rig.leak_guard.watch(token)

    rounds: list[list[Answer]] = []
    with running(token), Load(token.base_url, concurrency=CONTENDERS) as load:
        for name, code in issued:
            form = {
                "grant_type": "password",
                "client_id": market.client_id,
                "username": name,
                "password": code,
            }
            rounds.append(load.race([(name, token_request(form))] * CONTENDERS))

    winners = [sum(answer.status == 200 for answer in answers) for answers in rounds]
    losers = Counter(error_code(a) for answers in rounds for a in answers if a.status != 200)
    with Session(rig.engine) as session:
        unused = session.scalar(
            select(OneTimePassword.id).where(OneTimePassword.used_at.is_(None)).limit(1)
        )
    rig.figures.record(
        "otp_single_use_race",
        rounds=ROUNDS,
        requests=ROUNDS * CONTENDERS,
        rounds_with_one_success=winners.count(1),
        rounds_with_two_or_more=sum(count > 1 for count in winners),
        rounds_with_none=winners.count(0),
        loser_answers=dict(losers),
    )

    assert winners == [1] * ROUNDS
    assert {a.status for answers in rounds for a in answers} <= {200, 400}
    assert set(losers) <= {"Auth.InvalidUsernameOrPassword", "Auth.LockedOut"}
    assert unused is None


def test_a_hundred_concurrent_wrong_guesses_lock_the_account_at_exactly_the_threshold(
    rig: Rig,
) -> None:
    market = rig.seed(users=0, prefix="lock", allowed_failed_attempts=THRESHOLD)
    with Session(rig.engine) as session, session.begin():
        user = make_user(
            session,
            buyer=session.get_one(Buyer, market.buyer_id),
            username="lock-target",
            password=PASSWORD,
        )
        client = session.get_one(ApiClient, market.client_id)
        _otp, code = make_otp(session, user, client, SERVICE_SETTINGS)
        user_id = user.id
    rig.leak_guard.saw_codes([code])
    token = http_service(
        "token", rig.env(proxied_database=False, proxied_broker=False), workers=2, threads=16
    )
    rig.leak_guard.watch(token)

    def guess(n: int) -> dict[str, str]:
        # Half wrong passwords, half wrong OTP-shaped guesses: both kinds count.
        wrong = f"wrong password {n}" if n % 2 else str((int(code) + n) % 10**8).zfill(8)
        return {
            "grant_type": "password",
            "client_id": market.client_id,
            "username": "lock-target",
            "password": wrong,
        }

    with running(token), Load(token.base_url, concurrency=WRONG_GUESSES) as load:
        answers = load.race([(str(n), token_request(guess(n))) for n in range(1, 101)])
        right_password = load.call("after", token_request({**guess(0), "password": PASSWORD}))
        right_otp = load.call("after", token_request({**guess(0), "password": code}))

    outcomes = Counter(error_code(answer) for answer in answers)
    with Session(rig.engine) as session:
        locked_user = session.get_one(User, user_id)
        counter, locked_until = locked_user.failed_login_attempts, locked_user.locked_until
    rig.figures.record(
        "lockout_race",
        attempts=WRONG_GUESSES,
        threshold=THRESHOLD,
        counted_failures=outcomes["Auth.InvalidUsernameOrPassword"],
        locked_out_answers=outcomes["Auth.LockedOut"],
        counter_after=counter,
    )

    assert set(outcomes) == {"Auth.InvalidUsernameOrPassword", "Auth.LockedOut"}, outcomes
    assert outcomes["Auth.InvalidUsernameOrPassword"] == THRESHOLD
    assert counter == THRESHOLD
    assert locked_until is not None
    assert error_code(right_password) == "Auth.LockedOut"
    assert error_code(right_otp) == "Auth.LockedOut"
