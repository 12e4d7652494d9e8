"""The actors: parse the message, call a ``core`` service, map the outcome. Nothing more.

Declared by :func:`workers.setup.setup_workers` on the broker it configured; each actor
closes over the process's :class:`~workers.setup.WorkerContext`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import dramatiq

from core.delivery.mail import send_otp_email
from core.delivery.service import RETRY, AttemptResult, OtpMessage, Send, deliver_otp
from core.delivery.targets import CONSOLE, EMAIL, WEBHOOK
from core.delivery.webhooks import send_webhook
from core.messaging.broker import CONSOLE_QUEUE, EMAIL_QUEUE, REQUESTS_QUEUE, WEBHOOK_QUEUE
from core.messaging.events import (
    DELIVER_CONSOLE_ACTOR,
    DELIVER_EMAIL_ACTOR,
    DELIVER_WEBHOOK_ACTOR,
    ISSUE_OTPS_ACTOR,
    OtpRequested,
)
from core.otp.fanout import process_otp_request
from core.platform.errors import InvalidRequest
from core.platform.metrics import record_delivery, record_otps_issued, record_request_dropped
from workers.publishing import BrokerDeliveryPublisher

if TYPE_CHECKING:
    from workers.setup import WorkerContext

logger = logging.getLogger(__name__)
# core.delivery.service's statuses as otp_deliveries_total's outcome label.
_OUTCOME_LABELS = {RETRY: "retried"}


def declare_actors(broker: dramatiq.Broker, context: WorkerContext) -> None:
    runtime = context.runtime
    publisher = BrokerDeliveryPublisher(broker)

    def issue_otps(message: dict[str, Any]) -> None:
        event = OtpRequested.from_message(message)
        result = process_otp_request(
            runtime.sessions,
            event,
            settings=runtime.settings,
            clock=runtime.clock,
            publisher=publisher,
            lookups=context.lookups,
        )
        if not result.already_issued:  # a redelivered event counts nothing twice
            record_otps_issued(result.issued)
            record_request_dropped("throttled", result.throttled)
            record_request_dropped("no_sender", result.without_sender)
            if result.unmatched:
                record_request_dropped("mismatch")
        logger.info(
            "OTP request handled",
            extra={
                "request_id": event.request_id,
                "issued": result.issued,
                "throttled": result.throttled,
                "without_sender": result.without_sender,
                "unmatched": result.unmatched,
                "deliveries": len(result.deliveries),
                "redelivered": result.already_issued,
            },
        )

    def deliver(channel: str, delivery_id: str, send: Send) -> None:
        outcome = deliver_otp(
            runtime.sessions,
            delivery_id,
            send=send,
            settings=runtime.settings,
            clock=runtime.clock,
            renderer=context.renderer,
            retry_policy=context.retry_policy,
        )
        record_delivery(
            channel,
            _OUTCOME_LABELS.get(outcome.status, outcome.status),
            outcome.seconds_since_issued,
        )
        logger.info(
            "delivery attempt finished",
            extra={"delivery_id": delivery_id, "channel": channel, "outcome": outcome.status},
        )
        if outcome.status == RETRY:
            raise dramatiq.Retry(f"delivery {delivery_id} retried", delay=outcome.retry_in_ms)

    def deliver_webhook(delivery_id: str) -> None:
        def send(message: OtpMessage) -> AttemptResult:
            return send_webhook(message, context.webhook_transport, runtime.clock)

        deliver(WEBHOOK, delivery_id, send)

    def deliver_email(delivery_id: str) -> None:
        def send(message: OtpMessage) -> AttemptResult:
            return send_otp_email(context.email_sender, message)

        deliver(EMAIL, delivery_id, send)

    def deliver_console(delivery_id: str) -> None:
        deliver(CONSOLE, delivery_id, context.console_sender.send)

    # A malformed event is dead-lettered at once; retrying cannot mend it.
    dramatiq.actor(
        broker=broker,
        actor_name=ISSUE_OTPS_ACTOR,
        queue_name=REQUESTS_QUEUE,
        throws=(InvalidRequest,),
    )(issue_otps)
    # Delivery retries are bounded by the OTP's expiry (core.delivery.service), not by a count.
    for function, name, queue in (
        (deliver_webhook, DELIVER_WEBHOOK_ACTOR, WEBHOOK_QUEUE),
        (deliver_email, DELIVER_EMAIL_ACTOR, EMAIL_QUEUE),
        (deliver_console, DELIVER_CONSOLE_ACTOR, CONSOLE_QUEUE),
    ):
        dramatiq.actor(broker=broker, actor_name=name, queue_name=queue, max_retries=None)(function)
