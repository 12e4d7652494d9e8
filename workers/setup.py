"""Building a worker process: broker, middleware, the actors' shared context.

Nothing here runs at import time. :func:`setup_workers` configures the broker built from
settings, makes it the global broker, and only then declares the actors on it, so every
actor binds to this broker (the dramatiq CLI, ``otp dev`` and tests alike).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import dramatiq
from dramatiq.middleware import AgeLimit, Middleware, Retries

from core.delivery.address_policy import AddressPolicy
from core.delivery.attempts import Channel
from core.delivery.channels.console import ConsoleChannel
from core.delivery.channels.email import EmailChannel, SmtpEmailSender
from core.delivery.channels.webhook import WebhookChannel
from core.delivery.service import RetryPolicy
from core.delivery.templates import MessageRenderer
from core.messaging.routes import CONSOLE, EMAIL, WEBHOOK
from core.otp.fanout_lookups import FanOutLookups
from core.platform.runtime import Runtime
from workers.actors import declare_actors
from workers.observability import install_worker_metrics
from workers.publishing import BrokerDeliveryPublisher

# The fan-out retries unexpected failures (database briefly away) this many times.
FAN_OUT_MAX_RETRIES = 20
# Messages older than this many OTP lifetimes can do no good: every code they could
# issue or deliver would be long expired. Delivery actors mark expiry themselves first.
AGE_LIMIT_LIFETIMES = 2


@dataclass
class WorkerContext:
    """What the actors of one process share: runtime, renderer, retry policy, the channels
    deliveries are sent through (by name, as in ``core.messaging.routes``), the publisher of
    delivery messages, and the fan-out's cached lookups of clients and senders."""

    runtime: Runtime
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    renderer: MessageRenderer = field(default_factory=MessageRenderer)
    console: TextIO | None = None
    channels: dict[str, Channel] = field(init=False)
    publisher: BrokerDeliveryPublisher = field(init=False)
    lookups: FanOutLookups = field(init=False)

    def __post_init__(self) -> None:
        settings = self.runtime.settings
        # Where webhooks and mail may connect (OTP_BLOCKED_TARGET_NETWORKS).
        policy = AddressPolicy.of(settings)
        self.channels = {
            WEBHOOK: WebhookChannel(settings.webhook_timeout, self.runtime.clock, policy),
            EMAIL: EmailChannel(SmtpEmailSender(address_policy=policy)),
            CONSOLE: ConsoleChannel(self.console, dev_mode=settings.dev_mode),
        }
        self.publisher = BrokerDeliveryPublisher(self.runtime.broker)
        self.lookups = FanOutLookups.cached(settings)

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


class WorkerLifecycle(Middleware):
    """Closes the context's channels (pooled HTTP connections) when a worker shuts down."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        self.context.close()


def setup_workers(
    runtime: Runtime,
    *,
    retry_policy: RetryPolicy | None = None,
    console: TextIO | None = None,
    extra_middleware: Sequence[Middleware] = (),
) -> dramatiq.Broker:
    """Configure ``runtime.broker`` for workers and declare the actors on it.

    ``extra_middleware`` (say, Prometheus metrics on ``OTP_WORKER_METRICS_PORT``) is
    added before any actor exists, as dramatiq's middleware expects.
    """
    policy = retry_policy or RetryPolicy()
    broker = runtime.broker
    configure_middleware(broker, runtime.settings.otp_lifetime, policy)
    context = WorkerContext(runtime, retry_policy=policy, console=console)
    broker.add_middleware(WorkerLifecycle(context))
    # Prometheus under ``otp worker``; a no-op in otp dev and in tests' in-process workers.
    install_worker_metrics(broker, runtime.settings)
    for middleware in extra_middleware:
        broker.add_middleware(middleware)
    dramatiq.set_broker(broker)
    declare_actors(broker, context)
    return broker


def configure_middleware(broker: dramatiq.Broker, otp_lifetime: int, policy: RetryPolicy) -> None:
    """Retries with exponential backoff and jitter; an age limit as a backstop."""
    retries = _middleware(broker, Retries)
    retries.min_backoff = policy.min_backoff_ms
    retries.max_backoff = policy.max_backoff_ms
    retries.max_retries = FAN_OUT_MAX_RETRIES
    age_limit = _middleware(broker, AgeLimit)
    age_limit.max_age = AGE_LIMIT_LIFETIMES * otp_lifetime * 1000


def _middleware(broker: dramatiq.Broker, kind: type[Any]) -> Any:
    """The broker's middleware of this kind (dramatiq adds both by default), or a new one."""
    for middleware in broker.middleware:
        if isinstance(middleware, kind):
            return middleware
    middleware = kind()
    broker.add_middleware(middleware)
    return middleware


def start_dev_worker(runtime: Runtime, *, threads: int = 4) -> dramatiq.Worker:
    """``otp dev``: actors on the in-process broker, run by worker threads; stop() it on exit."""
    broker = setup_workers(runtime, console=sys.stdout)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=250)
    worker.start()
    return worker
