"""What a channel is handed and what it answers: one message in, one attempt result out.

Every channel (``core.delivery.channels``) is an object with ``send(message) ->
AttemptResult``; the delivery service (``core.delivery.service``) calls it and records the
result the same way for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from core.delivery.context import Recipient, SenderRecord
from core.delivery.templates import RenderedMessage


@dataclass(frozen=True)
class OtpMessage:
    """Everything a channel needs to send one OTP; holds the code, so it is never logged."""

    delivery_id: str
    request_id: str
    target: str
    target_settings: dict[str, Any]
    sender: SenderRecord
    user: Recipient
    client_id: str
    code: str
    expires_at: datetime
    message: RenderedMessage
    environment: str

    def __repr__(self) -> str:  # keeps the code out of tracebacks and debug output
        return f"OtpMessage(delivery_id={self.delivery_id!r}, target={self.target!r})"


class AttemptStatus(StrEnum):
    """What one send attempt came to, and so what the delivery service does next."""

    DELIVERED = "delivered"
    RETRY = "retry"  # transient: try again later (until the OTP expires)
    FAILED = "failed"  # permanent: retrying cannot help


@dataclass(frozen=True)
class AttemptResult:
    """One attempt's outcome, safe to store: ``error`` never holds a password or a code."""

    status: AttemptStatus
    status_code: int | None = None  # the receiver's HTTP status or SMTP reply code
    error: str | None = None
    retry_after: float | None = None  # seconds, from the receiver's Retry-After

    @classmethod
    def delivered(cls, status_code: int | None = None) -> AttemptResult:
        return cls(AttemptStatus.DELIVERED, status_code=status_code)

    @classmethod
    def failed(cls, error: str, status_code: int | None = None) -> AttemptResult:
        return cls(AttemptStatus.FAILED, status_code=status_code, error=error)

    @classmethod
    def retry(
        cls, error: str, status_code: int | None = None, retry_after: float | None = None
    ) -> AttemptResult:
        return cls(
            AttemptStatus.RETRY, status_code=status_code, error=error, retry_after=retry_after
        )


class Channel(Protocol):
    """Sends one OTP message one way (webhook, email, console) and says how it went.

    Never raises for a delivery problem: the outcome is in the result.
    """

    def send(self, message: OtpMessage) -> AttemptResult: ...

    def close(self) -> None:
        """Release what the channel holds open (pooled connections); called at shutdown."""
        ...
