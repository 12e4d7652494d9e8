"""Account lockout (API.md): every failed attempt counts, atomically, in one SQL statement.

Each failed password or OTP attempt for an existing user increments
``failed_login_attempts`` with one conditional ``UPDATE ... RETURNING``; concurrent
failures are therefore all counted and none is lost. Reaching the strictest assigned
profile's ``AllowedFailedAttempts`` locks the account for ``LockoutDuration`` minutes
(0 = until an admin unlocks it). While locked, nothing is counted and the lock is not
extended; once a timed lock has lifted, counting starts again from zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, ColumnElement, and_, case, literal, null, or_, select, update
from sqlalchemy.orm import Session

from core.models import SecurityProfile, User
from core.models.base import UTCDateTime

DEFAULT_ALLOWED_FAILED_ATTEMPTS = 10
DEFAULT_LOCKOUT_MINUTES = 2


@dataclass(frozen=True)
class LockoutPolicy:
    """``allowed_failed_attempts`` failures lock for ``lockout_minutes`` (0 = indefinitely)."""

    allowed_failed_attempts: int = DEFAULT_ALLOWED_FAILED_ATTEMPTS
    lockout_minutes: int = DEFAULT_LOCKOUT_MINUTES

    @classmethod
    def from_profiles(cls, profiles: Iterable[SecurityProfile]) -> LockoutPolicy:
        """The strictest PasswordConfig: fewest allowed attempts, then the longest lock."""
        policies = [cls.from_password_config(profile.password_config) for profile in profiles]
        if not policies:
            return cls()
        return min(policies, key=lambda policy: policy._strictness())

    @classmethod
    def from_password_config(cls, config: dict[str, Any] | None) -> LockoutPolicy:
        """Missing or unusable values fall back to OrderCloud's defaults (10 attempts, 2 min)."""
        config = config or {}
        attempts = _whole_number(config.get("AllowedFailedAttempts"))
        minutes = _whole_number(config.get("LockoutDuration"))
        return cls(
            allowed_failed_attempts=attempts
            if attempts is not None and attempts > 0
            else DEFAULT_ALLOWED_FAILED_ATTEMPTS,
            lockout_minutes=minutes
            if minutes is not None and minutes >= 0
            else DEFAULT_LOCKOUT_MINUTES,
        )

    def _strictness(self) -> tuple[int, float]:
        lock_length = float("inf") if self.lockout_minutes == 0 else self.lockout_minutes
        return (self.allowed_failed_attempts, -lock_length)


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def is_locked(locked: bool, locked_until: datetime | None, now: datetime) -> bool:
    """Locked indefinitely, or until a moment still in the future."""
    return locked or (locked_until is not None and locked_until > now)


@dataclass(frozen=True)
class FailedAttempt:
    """The counter after a counted failure, and whether that failure locked the account."""

    attempts: int
    locked_now: bool


def _unlocked_at(now: datetime) -> ColumnElement[bool]:
    """The user row is not locked at ``now`` (a lapsed timed lock counts as unlocked)."""
    return and_(
        User.locked.is_(False),
        or_(User.locked_until.is_(None), User.locked_until <= _at(now)),
    )


def _at(moment: datetime) -> Any:
    # Typed as the column type so SQLite stores and compares it like the column does.
    return literal(moment, UTCDateTime())


def record_failed_attempt(
    session: Session, user_id: str, policy: LockoutPolicy, now: datetime
) -> FailedAttempt | None:
    """Count one failure in one conditional UPDATE; ``None`` when the account is locked
    (then nothing is counted and the lock is not extended)."""
    lock_lapsed = and_(User.locked_until.is_not(None), User.locked_until <= _at(now))
    attempts = case((lock_lapsed, 1), else_=User.failed_login_attempts + 1)
    reaches_limit = attempts >= policy.allowed_failed_attempts
    values: dict[Any, Any] = {User.failed_login_attempts: attempts}
    if policy.lockout_minutes > 0:
        until = now + timedelta(minutes=policy.lockout_minutes)
        values[User.locked_until] = case((reaches_limit, _at(until)), else_=null())
    else:
        values[User.locked_until] = null()
        values[User.locked] = case(
            (reaches_limit, literal(True, Boolean())), else_=literal(False, Boolean())
        )
    row = session.execute(
        update(User)
        .where(User.id == user_id, _unlocked_at(now))
        .values(values)
        .returning(User.failed_login_attempts, User.locked, User.locked_until)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    return FailedAttempt(attempts=row[0], locked_now=is_locked(row[1], row[2], now))


def record_successful_login(session: Session, user_id: str, now: datetime) -> bool:
    """Reset the counter; ``False`` (and nothing changed) when the account is locked."""
    row = session.execute(
        update(User)
        .where(User.id == user_id, _unlocked_at(now))
        .values(failed_login_attempts=0, locked_until=None, last_login_at=now)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return row is not None


def lock_user_row(session: Session, user_id: str, now: datetime) -> bool:
    """Take the user's row lock for this transaction; ``True`` when the account is locked.

    Every transaction that touches both a user and that user's OTP rows takes the user
    row first, so concurrent logins of one user cannot deadlock.
    """
    row = session.execute(
        select(User.locked, User.locked_until).where(User.id == user_id).with_for_update()
    ).one()
    return is_locked(row[0], row[1], now)
