"""The actors: parse the message, call one ``core`` service, map the outcome. Nothing more.

Each actor is a function of the process's :class:`~workers.setup.WorkerContext` and the
message's arguments; :func:`declare_actors` binds them to the context and declares one
actor per route of the routing table (``core.messaging.routes``) on the broker
:func:`workers.setup.setup_workers` configured.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import dramatiq

from core.delivery.service import OutcomeStatus, deliver_otp
from core.messaging.events import OtpRequested
from core.messaging.routes import DELIVERY_ROUTES, ISSUE_OTPS
from core.otp.fanout import process_otp_request
from core.platform.errors import InvalidRequest
from core.platform.metrics import record_delivery, record_otps_issued, record_request_dropped

if TYPE_CHECKING:
    from workers.setup import WorkerContext

logger = logging.getLogger(__name__)
# core.delivery.service's statuses as otp_deliveries_total's outcome label.
_OUTCOME_LABELS = {OutcomeStatus.RETRY: "retried"}


def issue_otps(context: WorkerContext, message: dict[str, Any]) -> None:
    """The fan-out: one OtpRequested event in, OTPs issued and their deliveries published."""
    event = OtpRequested.from_message(message)
    runtime = context.runtime
    result = process_otp_request(
        runtime.sessions,
        event,
        settings=runtime.settings,
        clock=runtime.clock,
        publisher=context.publisher,
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


def deliver(context: WorkerContext, channel: str, delivery_id: str) -> None:
    """One attempt at one delivery through ``channel``; a retry is rescheduled by dramatiq."""
    runtime = context.runtime
    outcome = deliver_otp(
        runtime.engine,
        delivery_id,
        channel=context.channels[channel],
        settings=runtime.settings,
        clock=runtime.clock,
        renderer=context.renderer,
        retry_policy=context.retry_policy,
    )
    record_delivery(
        channel, _OUTCOME_LABELS.get(outcome.status, outcome.status), outcome.seconds_since_issued
    )
    logger.info(
        "delivery attempt finished",
        extra={"delivery_id": delivery_id, "channel": channel, "outcome": outcome.status},
    )
    if outcome.status is OutcomeStatus.RETRY:
        raise dramatiq.Retry(f"delivery {delivery_id} retried", delay=outcome.retry_in_ms)


def declare_actors(broker: dramatiq.Broker, context: WorkerContext) -> None:
    """One actor per route, each bound to ``context``."""
    # A malformed event is dead-lettered at once; retrying cannot mend it.
    dramatiq.actor(
        broker=broker,
        actor_name=ISSUE_OTPS.actor_name,
        queue_name=ISSUE_OTPS.queue_name,
        throws=(InvalidRequest,),
    )(_bound(issue_otps, context))
    # Delivery retries are bounded by the OTP's expiry (core.delivery.service), not by a count.
    for channel, route in DELIVERY_ROUTES.items():
        dramatiq.actor(
            broker=broker,
            actor_name=route.actor_name,
            queue_name=route.queue_name,
            max_retries=None,
        )(_bound(deliver, context, channel))


def _bound(function: Any, *arguments: Any) -> Any:
    """``function`` with its leading arguments given, keeping its name and module."""
    return functools.update_wrapper(functools.partial(function, *arguments), function)
