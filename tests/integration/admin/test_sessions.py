"""The session check of every admin request: live user and client, by ID, within the bound.

The api keeps what it read per process; these tests move a controlled clock to show a
revocation is served from the cache at most until REVOCATION_BOUND has passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from core.auth.sessions import REVOCATION_BOUND, SessionCheck, revoke_user_sessions
from core.auth.tokens import AccessClaims, TokenKeys
from core.models import ApiClient, User
from core.platform.errors import Unauthorized
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import make_access_token, make_buyer, make_client, make_user


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def runtime_on_clock(
    settings: Settings, clock: FrozenClock, committed_db: Engine
) -> Iterator[Runtime]:
    runtime = Runtime(settings, clock=clock)
    yield runtime
    runtime.close()


def _claims(runtime: Runtime, user: User, client_id: str, *, version: int = 0) -> AccessClaims:
    keys = TokenKeys(runtime.settings)
    token = make_access_token(
        keys,
        roles=["Shopper"],
        username=user.username,
        user_id=user.id,
        token_version=version,
        client_id=client_id,
        now=runtime.clock.now(),
    )
    return keys.verify(token, now=runtime.clock.now())


def _seed(engine: Engine, clock: FrozenClock) -> tuple[User, str]:
    """A buyer user created before the controlled clock's now, and a client."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        buyer = make_buyer(session)
        created = clock.now() - timedelta(minutes=1)
        user = make_user(session, buyer=buyer, id="sam", username="sam", created_at=created)
        return user, make_client(session).id


def test_a_revocation_is_served_from_the_cache_at_most_until_the_bound(
    runtime_on_clock: Runtime, clock: FrozenClock, committed_db: Engine
) -> None:
    user, client_id = _seed(committed_db, clock)
    check = SessionCheck(runtime_on_clock.sessions, clock)
    claims = _claims(runtime_on_clock, user, client_id)
    principal = check.principal(claims)
    assert (principal.user_id, principal.user_type, principal.buyer_id) == (
        "sam",
        "buyer",
        user.buyer_id,
    )
    with committed_db.begin() as connection:
        revoke_user_sessions(connection, "sam", clock.now())
    check.principal(claims)  # still cached
    # A token issued after the revocation is not refused by the stale cache.
    check.principal(_claims(runtime_on_clock, user, client_id, version=1))
    clock.advance(REVOCATION_BOUND.total_seconds())
    with pytest.raises(Unauthorized):
        check.principal(claims)


@pytest.mark.parametrize(
    "change",
    [
        update(User).where(User.id == "sam").values(active=False),
        update(ApiClient).values(active=False),
    ],
    ids=["user deactivated", "client deactivated"],
)
def test_an_inactive_user_or_client_ends_the_session_within_the_bound(
    runtime_on_clock: Runtime, clock: FrozenClock, committed_db: Engine, change: object
) -> None:
    user, client_id = _seed(committed_db, clock)
    check = SessionCheck(runtime_on_clock.sessions, clock)
    claims = _claims(runtime_on_clock, user, client_id)
    check.principal(claims)
    with committed_db.begin() as connection:
        connection.execute(change)  # type: ignore[call-overload]
    clock.advance(REVOCATION_BOUND.total_seconds())
    with pytest.raises(Unauthorized):
        check.principal(claims)


def test_a_token_older_than_its_user_speaks_for_nobody(
    runtime_on_clock: Runtime, clock: FrozenClock, committed_db: Engine
) -> None:
    """An ID reused for a new user does not inherit the old user's tokens."""
    user, client_id = _seed(committed_db, clock)
    claims = _claims(runtime_on_clock, user, client_id)
    clock.advance(60)
    with committed_db.begin() as connection:
        connection.execute(update(User).where(User.id == "sam").values(created_at=clock.now()))
    check = SessionCheck(runtime_on_clock.sessions, clock)
    with pytest.raises(Unauthorized):
        check.principal(claims)
    assert timedelta(0) < REVOCATION_BOUND <= timedelta(seconds=5)
