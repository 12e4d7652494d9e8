"""The one PostgreSQL statement that signs a user in with an OTP, under the lock rules of
docs/http-api.md "OTP login": the user's row first, nothing changed unless the typed OTP
itself is consumed, nothing at all for a locked account."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from core.auth.audit import OTP, SUCCESS, TokenAttempt, auth_event_row
from core.auth.otp_login import sign_in_with_otp
from core.models import OneTimePassword, User
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import make_otp
from tests.integration.token.conftest import Shop, fresh_user, make_shop

WAIT_SECONDS = 10.0


def _used(data: Session, *otps: OneTimePassword) -> list[bool]:
    data.expire_all()
    ids = [otp.id for otp in otps]
    query = select(OneTimePassword.id, OneTimePassword.used_at).where(OneTimePassword.id.in_(ids))
    used_at = {row[0]: row[1] for row in data.execute(query)}
    return [used_at[otp_id] is not None for otp_id in ids]


def _waiting_for_a_lock(engine: Engine, count: int = 1) -> None:
    """Until ``count`` other sessions wait for a lock (pg_stat_activity)."""
    deadline = time.monotonic() + WAIT_SECONDS
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
            if waiting >= count:
                return
            connection.rollback()
            time.sleep(0.02)
    pytest.fail("the sign-in never waited for the user's row lock")


@dataclass
class Rig:
    """The committed database, the settings and clock of the token handler, a second
    session to hold the user's row lock, and a thread to sign in beside it."""

    engine: Engine
    settings: Settings
    clock: FrozenClock
    holder: Session
    pool: ThreadPoolExecutor

    def sign_in(self, shop: Shop, code: str) -> str | None:
        assert self.settings.secret_key is not None
        now = self.clock.now()
        attempt = TokenAttempt("password", shop.client.id, "127.0.0.1", method=OTP)
        attempt.user_id = shop.user.id
        with self.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            return sign_in_with_otp(
                connection,
                self.settings.secret_key,
                user_id=shop.user.id,
                client_id=shop.client.id,
                candidate=code,
                now=now,
                auth_event=auth_event_row(attempt, SUCCESS, now),
                refresh_token=None,
            )

    def sign_in_beside(self, shop: Shop, code: str) -> Future[str | None]:
        """Sign in on another thread; returns once it waits for the user's row lock."""
        signing_in = self.pool.submit(self.sign_in, shop, code)
        _waiting_for_a_lock(self.engine)
        return signing_in

    def lock_user(self, shop: Shop) -> None:
        self.holder.execute(select(User.id).where(User.id == shop.user.id).with_for_update())


@pytest.fixture
def rig(committed_db: Engine, token_settings: Settings, clock: FrozenClock) -> Iterator[Rig]:
    with Session(committed_db) as holder, ThreadPoolExecutor(max_workers=1) as pool:
        yield Rig(committed_db, token_settings, clock, holder, pool)
        holder.rollback()


def test_a_locked_account_signs_in_with_nothing_consumed_or_reset(data: Session, rig: Rig) -> None:
    shop = make_shop(data)
    otp, code = make_otp(data, shop.user, shop.client, rig.settings, now=rig.clock.now())
    data.execute(
        update(User)
        .where(User.id == shop.user.id)
        .values(failed_login_attempts=4, locked_until=rig.clock.now() + timedelta(minutes=2))
    )
    data.commit()

    assert rig.sign_in(shop, code) is None
    assert _used(data, otp) == [False]
    assert fresh_user(data, shop.user).failed_login_attempts == 4


def test_the_users_row_is_locked_before_any_otp_row(data: Session, rig: Rig) -> None:
    shop = make_shop(data)
    otp, code = make_otp(data, shop.user, shop.client, rig.settings, now=rig.clock.now())
    data.commit()
    rig.lock_user(shop)

    signing_in = rig.sign_in_beside(shop, code)
    # While it waits for the user, it holds no OTP row: the failure path (user, then OTPs)
    # can take them now without waiting.
    rig.holder.execute(
        select(OneTimePassword.id).where(OneTimePassword.id == otp.id).with_for_update(nowait=True)
    )
    rig.holder.rollback()

    assert signing_in.result(timeout=WAIT_SECONDS) is not None
    assert _used(data, otp) == [True]


def test_a_sign_in_whose_otp_was_used_while_it_waited_changes_nothing(
    data: Session, rig: Rig
) -> None:
    shop = make_shop(data)
    now = rig.clock.now()
    typed, code = make_otp(data, shop.user, shop.client, rig.settings, now=now)
    other, _ = make_otp(data, shop.user, shop.client, rig.settings, now=now)
    data.commit()
    rig.lock_user(shop)

    signing_in = rig.sign_in_beside(shop, code)
    # Something else (here: the lock's holder) uses the typed OTP, but not the other one.
    rig.holder.execute(
        update(OneTimePassword).where(OneTimePassword.id == typed.id).values(used_at=now)
    )
    rig.holder.commit()

    assert signing_in.result(timeout=WAIT_SECONDS) is None
    assert _used(data, typed, other) == [True, False]
    assert fresh_user(data, shop.user).failed_login_attempts == 0
