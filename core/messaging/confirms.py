"""Confirmed, persistent AMQP publishes from many threads over one connection per process.

A request thread hands its message to one I/O thread and waits for RabbitMQ's confirm of
that message only. The I/O thread writes whatever is waiting in one go and settles every
message an ack covers (RabbitMQ acks with ``multiple=True`` under load), so the framing
and polling cost of a publish is shared, and request threads never block on the socket
(or on each other's confirms). :meth:`PipelinedPublisher.publish` returns only once
RabbitMQ confirmed the persistent message (invariant 2 in docs/architecture.md) and raises
:class:`PublishFailed` otherwise.

The connection opens on the first publish, after a gunicorn worker forked, and again on
the first publish after it was lost: nothing needs a restart when the broker comes back.
A message RabbitMQ could not route (its queue was deleted) is returned before its ack and
raises :class:`Unroutable`, so the caller can declare the queue and publish again.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

import pika
import pika.channel
import pika.connection
import pika.frame
import pika.spec
from pika.adapters.select_connection import IOLoop, SelectConnection

log = logging.getLogger(__name__)

# A request waits this long for its confirm (or for the connection to open) before it
# gives up; pika's own connect and handshake timeouts (core.messaging.broker) are shorter.
CONFIRM_TIMEOUT_SECONDS = 5.0

_PERSISTENT = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)


class PublishFailed(Exception):
    """RabbitMQ did not confirm the message: it may or may not be queued."""


class ConnectionLost(PublishFailed):
    """The connection closed before the message was confirmed."""


class ConnectFailed(PublishFailed):
    """No connection could be opened (RabbitMQ down, unreachable or not answering)."""


class Unroutable(PublishFailed):
    """RabbitMQ returned the message: no queue is bound to its routing key."""


class _Publish:
    """One message on its way; the publishing thread waits on ``settled``."""

    __slots__ = ("body", "error", "routing_key", "settled")

    def __init__(self, routing_key: str, body: bytes) -> None:
        self.routing_key = routing_key
        self.body = body
        self.error: PublishFailed | None = None
        # Held until the outcome is known: a bare lock is the cheapest one-shot signal
        # between two threads (threading.Event builds a Condition per message).
        self.settled = threading.Lock()
        self.settled.acquire()

    def wait(self, timeout: float) -> bool:
        return self.settled.acquire(timeout=timeout)

    def settle(self, error: PublishFailed | None = None) -> None:
        """Called once, from the I/O thread, after the item left the outbox or the
        unconfirmed map (so no item is settled twice)."""
        self.error = error
        self.settled.release()


class PipelinedPublisher:
    """Publishes on the default exchange with ``mandatory`` set, confirms pipelined.

    Thread-safe. Everything named ``_on_*`` and the connection state run on the I/O
    thread only; other threads touch only the outbox and the wake-up flag.
    """

    def __init__(
        self,
        parameters: Sequence[pika.connection.Parameters],
        *,
        confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS,
    ) -> None:
        self.parameters = list(parameters)
        self.confirm_timeout = confirm_timeout
        self._outbox: deque[_Publish] = deque()
        self._lock = threading.Lock()
        self._flush_scheduled = False
        self._ioloop: IOLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        # I/O thread only.
        self._connection: pika.connection.Connection | None = None
        self._channel: pika.channel.Channel | None = None
        self._connecting = False
        self._next_tag = 0
        self._unconfirmed: dict[int, _Publish] = {}
        self._returned: set[bytes] = set()

    def publish(self, routing_key: str, body: bytes, *, timeout: float | None = None) -> None:
        """Publish ``body`` persistently; return once RabbitMQ confirmed it."""
        item = _Publish(routing_key, body)
        self._outbox.append(item)
        self._schedule_flush()
        if not item.wait(self.confirm_timeout if timeout is None else timeout):
            raise PublishFailed("no confirm from RabbitMQ in time")
        if item.error is not None:
            raise item.error

    def close(self, timeout: float = 2.0) -> None:
        """Close the connection and stop the I/O thread; later publishes fail."""
        with self._lock:
            self._closed = True
            ioloop, thread = self._ioloop, self._thread
        if ioloop is not None and thread is not None:
            ioloop.add_callback_threadsafe(self._on_close_requested)
            thread.join(timeout)

    def _schedule_flush(self) -> None:
        with self._lock:
            if self._closed:
                raise PublishFailed("publisher closed")
            if self._flush_scheduled:
                return  # the pending flush will take this message too
            self._flush_scheduled = True
            if self._ioloop is None:
                self._ioloop = IOLoop()
                self._thread = threading.Thread(
                    target=self._run, args=(self._ioloop,), name="amqp-publisher", daemon=True
                )
                self._thread.start()
            ioloop = self._ioloop
        ioloop.add_callback_threadsafe(self._on_flush)

    # --- I/O thread -------------------------------------------------------------------

    @staticmethod
    def _run(ioloop: IOLoop) -> None:
        ioloop.start()  # until close()
        ioloop.close()

    def _on_flush(self) -> None:
        with self._lock:
            # Cleared before draining: a message appended from now on schedules a flush.
            self._flush_scheduled = False
        channel = self._channel
        if channel is None:
            if not self._connecting and self._outbox:
                self._connect()
            return  # the outbox is flushed once the channel is ready
        while self._outbox:
            item = self._outbox.popleft()
            self._next_tag += 1
            self._unconfirmed[self._next_tag] = item
            try:
                channel.basic_publish("", item.routing_key, item.body, _PERSISTENT, mandatory=True)
            except pika.exceptions.AMQPError as error:
                self._drop_connection(ConnectionLost(repr(error)))
                return

    def _connect(self) -> None:
        assert self._ioloop is not None
        self._connecting = True
        SelectConnection.create_connection(
            self.parameters, self._on_connection_done, custom_ioloop=self._ioloop
        )

    def _on_connection_done(self, result: object) -> None:
        if not isinstance(result, pika.connection.Connection):
            self._connecting = False
            self._fail_all(ConnectFailed(repr(result)))
            return
        self._connection = result
        result.add_on_close_callback(self._on_connection_closed)
        result.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(
            self._on_confirm, callback=lambda _frame: self._on_confirming(channel)
        )

    def _on_confirming(self, channel: pika.channel.Channel) -> None:
        self._channel = channel
        self._connecting = False
        self._next_tag = 0
        self._on_flush()

    def _on_return(
        self,
        _channel: pika.channel.Channel,
        _method: pika.spec.Basic.Return,
        _properties: pika.spec.BasicProperties,
        body: bytes,
    ) -> None:
        # RabbitMQ returns an unroutable mandatory message before it acks it.
        self._returned.add(body)

    def _on_confirm(self, frame: pika.frame.Method[pika.spec.Basic.Ack]) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        tag = method.delivery_tag
        if not method.multiple:
            self._settle(self._unconfirmed.pop(tag, None), acked)
            return
        while self._unconfirmed:
            oldest = next(iter(self._unconfirmed))  # dicts keep tags in publish order
            if oldest > tag:
                break
            self._settle(self._unconfirmed.pop(oldest), acked)

    def _settle(self, item: _Publish | None, acked: bool) -> None:
        if item is None:
            return
        if not acked:
            item.settle(PublishFailed("RabbitMQ refused the message (nack)"))
        elif self._returned and item.body in self._returned:
            self._returned.discard(item.body)
            item.settle(Unroutable(f"no queue for routing key {item.routing_key!r}"))
        else:
            item.settle()

    def _on_channel_closed(self, _channel: pika.channel.Channel, reason: Exception) -> None:
        self._drop_connection(ConnectionLost(repr(reason)))

    def _on_connection_closed(self, _connection: object, reason: Exception) -> None:
        self._connection = None
        self._drop_connection(ConnectionLost(repr(reason)))
        if self._closed:
            self._stop()

    def _drop_connection(self, error: PublishFailed) -> None:
        """Forget the channel, close the connection if open, fail what was in flight."""
        self._channel = None
        self._connecting = False
        connection, self._connection = self._connection, None
        if connection is not None and not (connection.is_closing or connection.is_closed):
            connection.close()
        self._fail_all(error)

    def _fail_all(self, error: PublishFailed) -> None:
        unconfirmed = list(self._unconfirmed.values())
        self._unconfirmed.clear()
        self._returned.clear()
        while self._outbox:
            unconfirmed.append(self._outbox.popleft())
        for item in unconfirmed:
            item.settle(error)

    def _on_close_requested(self) -> None:
        open_connection = self._connection is not None and self._connection.is_open
        self._drop_connection(ConnectionLost("publisher closed"))
        if not open_connection:
            self._stop()  # else once the connection reports it closed

    def _stop(self) -> None:
        assert self._ioloop is not None
        self._ioloop.stop()
