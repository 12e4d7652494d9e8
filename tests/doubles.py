"""Test doubles: stand-ins for a clock and a publisher, for tests whose subject is the code
that calls them. They live here, never in the product's modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.messaging.events import OtpRequested
from core.messaging.publisher import EventPublisher
from core.platform.clock import Clock
from core.platform.errors import ServiceUnavailable


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


if TYPE_CHECKING:  # each double meets the Protocol of what it stands in for
    _clock: Clock = FrozenClock()
    _publisher: EventPublisher = RecordingEventPublisher()
