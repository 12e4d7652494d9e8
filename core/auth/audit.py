"""The audit trail of token attempts: one ``auth_events`` row per attempt, never a secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert

from core.models import AuthEvent

PASSWORD = "password"  # noqa: S105 - an audit method name, not a secret
OTP = "otp"
SECRET = "secret"  # noqa: S105 - an audit method name, not a secret
REFRESH = "refresh"
SUCCESS = "success"

_ID_LIMIT = 100  # the width of auth_events.user_id / client_id


@dataclass
class TokenAttempt:
    """What is known about one token request while it is being decided."""

    grant_type: str
    client_id: str | None
    ip: str | None
    method: str
    user_id: str | None = None


_INSERT = insert(AuthEvent)


def auth_event_row(attempt: TokenAttempt, outcome: str, at: datetime) -> dict[str, object]:
    """The ``auth_events`` row of ``attempt``; ``outcome`` is ``success`` or the contract's
    ErrorCode of the refusal."""
    return {
        "at": at,
        "user_id": attempt.user_id,
        "client_id": attempt.client_id[:_ID_LIMIT] if attempt.client_id else None,
        "grant_type": attempt.grant_type[:30],
        "method": attempt.method,
        "outcome": outcome[:40],
        "ip": attempt.ip[:64] if attempt.ip else None,
    }


def record_auth_event(
    connection: Connection, attempt: TokenAttempt, outcome: str, at: datetime
) -> None:
    """Write the :func:`auth_event_row` of ``attempt``."""
    connection.execute(_INSERT, auth_event_row(attempt, outcome, at))
