"""Publishing events to the workers, behind a small interface.

The api publishes by queue and actor name (``core.messaging.routes.ISSUE_OTPS``), never by
importing actors. Invariant 2 of docs/architecture.md: a publish returns only once RabbitMQ
confirmed the persistent message (``ConfirmingRabbitmqBroker.enqueue_confirmed``, one
pipelined connection per process; dramatiq's ``enqueue`` on the dev StubBroker); every
broker failure becomes :class:`~core.platform.errors.ServiceUnavailable`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Protocol

import dramatiq
import dramatiq.errors
import pika.exceptions
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from core.messaging.broker import confirmed_enqueue
from core.messaging.confirms import PublishFailed
from core.messaging.events import OtpRequested
from core.messaging.routes import ISSUE_OTPS
from core.platform.clock import Clock, SystemClock
from core.platform.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# After a failed publish, fail fast for this long instead of letting every request wait
# out pika's connect timeouts while the broker is down (the 503's Retry-After is 5 s).
DEFAULT_FAILURE_COOLDOWN = timedelta(seconds=2)

# AMQPConnectorException (e.g. the AMQP handshake timed out) is not an AMQPError, and
# dramatiq lets it through unretried; without it here a stalled broker would be a 500.
_BROKER_ERRORS = (
    dramatiq.errors.BrokerError,
    pika.exceptions.AMQPError,
    AMQPConnectorException,
    PublishFailed,
    OSError,
)


class EventPublisher(Protocol):
    def publish_otp_requested(self, event: OtpRequested) -> None:
        """Durably queue the event for the fan-out actor, or raise ServiceUnavailable."""
        ...


def otp_requested_message(event: OtpRequested) -> dramatiq.Message[None]:
    """The Dramatiq message the ``issue_otps`` actor consumes: the event as its one arg."""
    return ISSUE_OTPS.message(event.to_message())


class DramatiqEventPublisher:
    """Enqueues on the process's Dramatiq broker (RabbitMQ with publisher confirms).

    On a connection or channel error the broker drops the connection and opens a new one
    on the next attempt, so the api recovers by itself once RabbitMQ is back; no restart
    needed.
    """

    def __init__(
        self,
        broker: dramatiq.Broker,
        *,
        clock: Clock | None = None,
        failure_cooldown: timedelta = DEFAULT_FAILURE_COOLDOWN,
    ) -> None:
        self.broker = broker
        self.clock = clock or SystemClock()
        self.failure_cooldown = failure_cooldown
        self._lock = threading.Lock()
        self._unavailable_until: datetime | None = None
        self._enqueue = confirmed_enqueue(broker)
        # Registers the queue name only (the StubBroker of dev mode needs it); no I/O.
        broker.declare_queue(ISSUE_OTPS.queue_name)

    def publish_otp_requested(self, event: OtpRequested) -> None:
        self._fail_fast_while_cooling_down()
        try:
            self._enqueue(otp_requested_message(event))
        except _BROKER_ERRORS as error:
            with self._lock:
                self._unavailable_until = self.clock.now() + self.failure_cooldown
            # The event carries what the client sent; only the request id is logged.
            log.warning("publish of request %s failed: %r", event.request_id, error)
            raise ServiceUnavailable(f"broker unavailable: {type(error).__name__}") from None
        with self._lock:
            self._unavailable_until = None

    def _fail_fast_while_cooling_down(self) -> None:
        with self._lock:
            until = self._unavailable_until
        if until is not None and self.clock.now() < until:
            raise ServiceUnavailable("broker unavailable (recent publish failed)")
