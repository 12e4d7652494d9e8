"""Account lockout: every failed attempt counts, atomically, in one SQL statement.

The contract is docs/http-api.md "Lockout".

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
from typing import Any, Protocol

from sqlalchemy import Boolean, Connection, and_, bindparam, case, literal, null, or_, update

from core.models import User
from core.models.base import UTCDateTime

DEFAULT_ALLOWED_FAILED_ATTEMPTS = 10
DEFAULT_LOCKOUT_MINUTES = 2


class PasswordConfigured(Protocol):
    """A security profile, as far as lockout is concerned."""

    @property
    def password_config(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class LockoutPolicy:
    """``allowed_failed_attempts`` failures lock for ``lockout_minutes`` (0 = indefinitely)."""

    allowed_failed_attempts: int = DEFAULT_ALLOWED_FAILED_ATTEMPTS
    lockout_minutes: int = DEFAULT_LOCKOUT_MINUTES

    @classmethod
    def from_profiles(cls, profiles: Iterable[PasswordConfigured]) -> LockoutPolicy:
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


# The statements are built once; each execution only binds ``subject_id`` and ``now``
# (plus the policy's numbers when counting a failure).
_NOW = bindparam("now", type_=UTCDateTime())
_SUBJECT = User.id == bindparam("subject_id")
UNLOCKED = and_(  # a lapsed timed lock counts as unlocked
    User.locked.is_(False), or_(User.locked_until.is_(None), User.locked_until <= _NOW)
)


def _count_failure_statement(*, lock_indefinitely: bool) -> Any:
    lock_lapsed = and_(User.locked_until.is_not(None), User.locked_until <= _NOW)
    attempts = case((lock_lapsed, 1), else_=User.failed_login_attempts + 1)
    reaches_limit = attempts >= bindparam("allowed")
    values: dict[Any, Any] = {User.failed_login_attempts: attempts}
    if lock_indefinitely:
        values[User.locked_until] = null()
        values[User.locked] = case(
            (reaches_limit, literal(True, Boolean())), else_=literal(False, Boolean())
        )
    else:
        until = bindparam("until", type_=UTCDateTime())
        values[User.locked_until] = case((reaches_limit, until), else_=null())
    return (
        update(User)
        .where(_SUBJECT, UNLOCKED)
        .values(values)
        .returning(User.failed_login_attempts, User.locked, User.locked_until)
    )


_COUNT_FAILURE_TIMED = _count_failure_statement(lock_indefinitely=False)
_COUNT_FAILURE_INDEFINITE = _count_failure_statement(lock_indefinitely=True)
# What a successful sign-in writes to the user's row (bound: ``now``).
SIGNED_IN: dict[str, Any] = {
    "failed_login_attempts": 0,
    "locked_until": None,
    "last_login_at": _NOW,
}
_RESET = update(User).where(_SUBJECT, UNLOCKED).values(SIGNED_IN).returning(User.id)


def record_failed_attempt(
    connection: Connection, user_id: str, policy: LockoutPolicy, now: datetime
) -> FailedAttempt | None:
    """Count one failure in one conditional UPDATE; ``None`` when the account is locked
    (then nothing is counted and the lock is not extended)."""
    parameters: dict[str, Any] = {
        "subject_id": user_id,
        "now": now,
        "allowed": policy.allowed_failed_attempts,
    }
    if policy.lockout_minutes > 0:
        parameters["until"] = now + timedelta(minutes=policy.lockout_minutes)
        statement = _COUNT_FAILURE_TIMED
    else:
        statement = _COUNT_FAILURE_INDEFINITE
    row = connection.execute(statement, parameters).one_or_none()
    if row is None:
        return None
    return FailedAttempt(attempts=row[0], locked_now=is_locked(row[1], row[2], now))


def record_successful_login(connection: Connection, user_id: str, now: datetime) -> bool:
    """Reset the counter; ``False`` (and nothing changed) when the account is locked.

    The UPDATE also takes the user's row lock for the rest of the transaction: every
    transaction that touches both a user and that user's OTP rows takes the user row
    first, so concurrent logins of one user run one after the other and cannot deadlock.
    A sign-in that then fails rolls its transaction, and so this reset, back.
    """
    row = connection.execute(_RESET, {"subject_id": user_id, "now": now}).one_or_none()
    return row is not None
