"""The Dramatiq broker both the api (publishing) and the workers (consuming) use.

This builds a broker object only; no connection is opened until the first publish or
consume. Actors live in ``workers``; the api publishes by queue and actor name (the
routing table, ``core.messaging.routes``), so it never imports them. Besides dramatiq's
``enqueue`` (one blocking connection per thread, each publish waiting for its own
confirm), the broker offers ``enqueue_confirmed``: the same message and the same
guarantee, pipelined over one connection per process
(``core.messaging.confirms``): the api's intake and the fan-out's delivery publisher use it.

``OTP_BROKER_URL`` may name several nodes of one cluster (comma-separated ``amqp://``
URLs): every connection, publishing or consuming, opens to the first node that answers,
and the next connection after one is lost starts again from the top of the list.
``OTP_BROKER_QUEUE_TYPE=quorum`` declares every queue, its ``.DQ`` and ``.XQ`` as
replicated quorum queues (docs/past-one-machine.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
import pika
import pika.exceptions
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import xq_name

from core.messaging.confirms import ConnectionLost, PipelinedPublisher, Unroutable
from core.platform.correlation import CorrelationMiddleware
from core.platform.errors import ServiceUnavailable
from core.platform.settings import QueueType, Settings

# pika's defaults (10 s connect, 15 s handshake, no limit while RabbitMQ blocks publishers)
# would hold an api request for a minute when the broker is down, because dramatiq retries
# an enqueue six times. These bound each attempt; a value in the URL's query wins.
CONNECTION_DEFAULTS = {
    "connection_attempts": "1",
    "socket_timeout": "2",
    "stack_timeout": "3",
    "blocked_connection_timeout": "5",
}
# A dropped connection or a deleted queue is retried within the same publish.
MAX_CONFIRMED_ATTEMPTS = 3


class ConfirmingRabbitmqBroker(RabbitmqBroker):
    """dramatiq's RabbitMQ broker (publisher confirms on) plus :meth:`enqueue_confirmed`.

    ``urls`` are the nodes to try, in order; ``queue_type`` is the ``x-queue-type`` of
    every queue it declares.
    """

    def __init__(self, *, urls: list[str], queue_type: QueueType = "classic") -> None:
        super().__init__(url=urls, confirm_delivery=True)
        self.queue_type = queue_type
        self.pipeline = PipelinedPublisher(self.parameters)
        self._declare_lock = threading.Lock()

    def _build_queue_arguments(self, queue_name: str) -> dict[str, Any]:
        """dramatiq's arguments of a queue and its ``.DQ``, plus ``x-queue-type: quorum``.

        Classic queues keep dramatiq's arguments exactly, so the queues of a deployment
        that declared them before this setting existed stay equivalent. Quorum queues
        refuse ``x-max-priority``; this broker never sets ``max_priority``.
        """
        arguments: dict[str, Any] = super()._build_queue_arguments(queue_name)  # type: ignore[no-untyped-call]
        return {**arguments, **self._queue_type_argument()}

    def _queue_type_argument(self) -> dict[str, str]:
        return {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}

    def _declare_xq_queue(self, queue_name: str) -> Any:
        """The dead-letter queue as dramatiq declares it (a week's TTL), with the queue type.

        dramatiq builds its ``.XQ`` arguments inline rather than in
        :meth:`_build_queue_arguments`, so they are repeated here.
        """
        return self.channel.queue_declare(
            queue=xq_name(queue_name),
            durable=True,
            arguments={"x-message-ttl": DEAD_MESSAGE_TTL, **self._queue_type_argument()},
        )

    def enqueue_confirmed(self, message: dramatiq.Message[Any]) -> None:
        """Publish ``message`` as dramatiq's ``enqueue`` would (persistent, mandatory,
        middleware run), returning once RabbitMQ confirmed it; raise
        :class:`~core.messaging.confirms.PublishFailed` when it did not."""
        self.emit_before("enqueue", message, None)
        body = message.encode()
        for attempt in range(1, MAX_CONFIRMED_ATTEMPTS + 1):
            self._ensure_queue_declared(message.queue_name)
            try:
                self.pipeline.publish(message.queue_name, body)
                break
            except Unroutable:
                self.queues_pending.add(message.queue_name)  # deleted: declare it again
                if attempt == MAX_CONFIRMED_ATTEMPTS:
                    raise
            except ConnectionLost:  # e.g. an idle connection RabbitMQ closed meanwhile
                if attempt == MAX_CONFIRMED_ATTEMPTS:
                    raise
        self.emit_after("enqueue", message, None)

    def _ensure_queue_declared(self, queue_name: str) -> None:
        """Declare the queue (and its delay and dead-letter queues) as dramatiq does, once
        per process and after RabbitMQ returned a message for want of it."""
        if queue_name in self.queues and queue_name not in self.queues_pending:
            return
        with self._declare_lock:
            try:
                self.declare_queue(queue_name, ensure=True)
            finally:
                # Declaring opened this thread's blocking connection; publishing never uses it.
                del self.connection

    def close(self) -> None:
        self.pipeline.close()
        super().close()


def confirmed_enqueue(broker: dramatiq.Broker) -> Callable[[dramatiq.Message[Any]], object]:
    """How to publish on ``broker``: over the process's pipelined confirmed connection on
    RabbitMQ (:meth:`ConfirmingRabbitmqBroker.enqueue_confirmed`), else dramatiq's
    ``enqueue`` (the in-process broker of ``otp dev`` and tests)."""
    if isinstance(broker, ConfirmingRabbitmqBroker):
        return broker.enqueue_confirmed
    return broker.enqueue


def build_broker(settings: Settings) -> dramatiq.Broker:
    """RabbitMQ with publisher confirms; the in-process StubBroker in dev mode.

    Every broker carries the correlation id of the request or message being handled into
    the messages it enqueues (``core.platform.correlation``).
    """
    broker: dramatiq.Broker
    if settings.dev_mode and not settings.broker_url:
        broker = StubBroker()
    else:
        settings.require("broker_url")
        assert settings.broker_url is not None
        broker = ConfirmingRabbitmqBroker(
            urls=node_urls(settings.broker_url), queue_type=settings.broker_queue_type
        )
    broker.add_middleware(CorrelationMiddleware())
    return broker


def node_urls(broker_url: str) -> list[str]:
    """The nodes of ``OTP_BROKER_URL`` in the order to try them (comma- or
    ``;``-separated ``amqp://`` URLs), each with :data:`CONNECTION_DEFAULTS` for unset keys."""
    urls = [url.strip() for url in broker_url.replace(";", ",").split(",")]
    return [_one_with_defaults(url) for url in urls if url]


def node_parameters(broker_url: str) -> list[pika.connection.Parameters]:
    """pika's connection parameters of every node in ``OTP_BROKER_URL``, in order."""
    return [pika.URLParameters(url) for url in node_urls(broker_url)]


def _one_with_defaults(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    merged = {**CONNECTION_DEFAULTS, **query}
    return urlunsplit(parts._replace(query=urlencode(merged)))


def check_broker(broker: dramatiq.Broker, broker_url: str | None) -> None:
    """Raise :class:`ServiceUnavailable` when no node of RabbitMQ accepts a connection."""
    if isinstance(broker, StubBroker) or not broker_url:
        return
    parameters = node_parameters(broker_url)
    for node in parameters:
        node.connection_attempts = 1
        node.socket_timeout = 2
        node.blocked_connection_timeout = 2
    try:
        pika.BlockingConnection(parameters).close()
    except pika.exceptions.AMQPError as error:
        raise ServiceUnavailable(f"broker unreachable: {error!r}") from None
