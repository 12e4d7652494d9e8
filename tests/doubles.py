"""Test doubles: stand-ins for a clock, a publisher and an email relay, for tests whose
subject is the code that calls them. They live here, never in the product's modules."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from core.delivery.attempts import AttemptResult
from core.delivery.mail import EmailSender, MessageParts, SmtpTarget, build_email
from core.messaging.events import OtpRequested
from core.messaging.publisher import EventPublisher
from core.platform.clock import Clock, SystemClock
from core.platform.errors import ServiceUnavailable, UnsendableEmail


class FrozenClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class RecordingEventPublisher:
    """Keeps published events in memory: for tests where the broker is not under test."""

    def __init__(self, *, fail: bool = False) -> None:
        self.otp_requests: list[OtpRequested] = []
        self.fail = fail

    def publish_otp_requested(self, event: OtpRequested) -> None:
        if self.fail:
            raise ServiceUnavailable("recording publisher told to fail")
        self.otp_requests.append(event)


@dataclass(frozen=True)
class SentEmail:
    """What a :class:`RecordingEmailSender` was asked to send."""

    target: SmtpTarget
    recipient: str
    delivery_id: str
    message: EmailMessage


@dataclass
class RecordingEmailSender:
    """Builds each message like the real sender, records it, and answers as scripted.

    ``results`` are returned in order, one per call; once used up every send is delivered.
    """

    results: list[AttemptResult] = field(default_factory=list)
    sent: list[SentEmail] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)

    def send(
        self,
        target: SmtpTarget,
        *,
        recipient: str,
        content: MessageParts,
        delivery_id: str,
        secrets: Collection[str] = (),
    ) -> AttemptResult:
        try:
            message = build_email(
                target,
                recipient=recipient,
                content=content,
                delivery_id=delivery_id,
                sent_at=self.clock.now(),
            )
        except UnsendableEmail as error:
            return AttemptResult.failed(str(error))
        self.sent.append(SentEmail(target, recipient, delivery_id, message))
        if self.results:
            return self.results.pop(0)
        return AttemptResult.delivered(250)


if TYPE_CHECKING:  # each double meets the Protocol of what it stands in for
    _clock: Clock = FrozenClock()
    _publisher: EventPublisher = RecordingEventPublisher()
    _email_sender: EmailSender = RecordingEmailSender()
