"""Dead-lettered Dramatiq messages: look at them without consuming them, or replay them.

Dramatiq's RabbitMQ broker dead-letters a message that ran out of retries (or of age) into
``<queue>.XQ``. ``otp dead-letters list`` takes each one unacknowledged, describes it and
hands them all back (``basic_nack`` with requeue), so the queue is unchanged afterwards.
``otp dead-letters replay`` publishes each one back on its queue, persistent and
confirmed, with a fresh retry budget, and only then acknowledges it on ``.XQ``: a crash
in between leaves a duplicate, never a loss, and delivery is idempotent by its row.

Descriptions never print a message's arguments: only its delivery or request id.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from core.messaging.broker import node_parameters
from core.messaging.routes import REQUESTS_QUEUE
from core.platform.clock import iso_utc
from core.platform.errors import ServiceUnavailable

DEAD_LETTER_SUFFIX = ".XQ"
_ID_MAX_LENGTH = 64
_ERROR_MAX_LENGTH = 300
# Options Dramatiq's Retries and delay machinery set on a failed message; a replayed
# message starts without them, as if newly enqueued.
_RETRY_STATE = ("retries", "traceback", "requeue_timestamp", "eta")


def dead_letter_queue(queue: str) -> str:
    return f"{queue}{DEAD_LETTER_SUFFIX}"


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, described without its arguments."""

    queue: str
    message_id: str | None
    actor: str | None
    retries: int | None
    error: str | None  # last line of the traceback Dramatiq kept, if any
    enqueued_at: str | None
    dead_lettered_at: str | None
    reason: str | None  # RabbitMQ's x-death reason: rejected, expired, ...
    delivery_id: str | None
    request_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_dead_letter(queue: str, body: bytes, headers: Mapping[str, Any] | None) -> DeadLetter:
    """What ``list`` prints for one message (pure: the body is parsed, never echoed)."""
    message = _decode(body)
    options = message.get("options") if isinstance(message.get("options"), dict) else {}
    assert isinstance(options, dict)
    death = _first_death(headers)
    delivery_id, request_id = _subject_ids(queue, message.get("args"), message.get("kwargs"))
    retries = options.get("retries")
    return DeadLetter(
        queue=queue,
        message_id=_text(message.get("message_id")),
        actor=_text(message.get("actor_name")),
        retries=retries if isinstance(retries, int) else None,
        error=_last_line(options.get("traceback")) if message else "undecodable message body",
        enqueued_at=_iso_from_millis(message.get("message_timestamp")),
        dead_lettered_at=_iso(death.get("time")),
        reason=_text(death.get("reason")),
        delivery_id=delivery_id,
        request_id=request_id,
    )


def with_fresh_retry_budget(body: bytes) -> bytes | None:
    """The message body to replay: retry state cleared; ``None`` when it is not Dramatiq's.

    ``message_timestamp`` is kept on purpose: a ``max_age`` counted from the first
    enqueue still applies, so a replay cannot stretch a message past its useful life.
    """
    message = _decode(body)
    options = message.get("options")
    if (
        not message
        or not isinstance(options, dict)
        or not isinstance(message.get("queue_name"), str)
    ):
        return None
    for key in _RETRY_STATE:
        options.pop(key, None)
    options["retries"] = 0
    message["queue_name"] = _canonical(message["queue_name"])
    return json.dumps(message, separators=(",", ":")).encode()


def list_dead_letters(broker_url: str, queues: Sequence[str], *, limit: int) -> list[DeadLetter]:
    """Up to ``limit`` dead letters across ``queues``, left in place."""
    letters: list[DeadLetter] = []
    with _connection(broker_url) as connection:
        for queue in queues:
            with _dead_letter_channel(connection, queue) as (channel, waiting):
                last_tag: int | None = None
                for _ in range(min(waiting, limit - len(letters))):
                    method, properties, body = channel.basic_get(
                        dead_letter_queue(queue), auto_ack=False
                    )
                    if method is None:
                        break
                    letters.append(describe_dead_letter(queue, body, properties.headers))
                    last_tag = method.delivery_tag
                if last_tag is not None:
                    # Held unacknowledged so each basic_get saw the next one; now all go back.
                    channel.basic_nack(last_tag, multiple=True, requeue=True)
    return letters


def replay_dead_letters(
    broker_url: str, queues: Sequence[str], *, limit: int | None = None
) -> dict[str, int]:
    """Move dead letters back to their queues; how many per queue.

    Only the messages waiting when a queue's replay starts are moved, so a message that
    fails again straight away is not replayed twice in one run.
    """
    replayed: dict[str, int] = {}
    with _connection(broker_url) as connection:
        for queue in queues:
            budget = None if limit is None else limit - sum(replayed.values())
            replayed[queue] = _replay_queue(connection, queue, budget)
    return replayed


def _replay_queue(connection: pika.BlockingConnection, queue: str, budget: int | None) -> int:
    moved = 0
    with _dead_letter_channel(connection, queue) as (channel, waiting):
        if waiting == 0:
            return 0
        _require_queue(connection, queue)
        channel.confirm_delivery()
        kept_back: list[int] = []
        for _ in range(waiting if budget is None else min(waiting, budget)):
            method, properties, body = channel.basic_get(dead_letter_queue(queue), auto_ack=False)
            if method is None:
                break
            fresh = with_fresh_retry_budget(body)
            if fresh is None:  # not a Dramatiq message: leave it for a human
                kept_back.append(method.delivery_tag)
                continue
            try:
                channel.basic_publish(
                    exchange="",
                    routing_key=queue,
                    body=fresh,
                    properties=pika.BasicProperties(delivery_mode=2, priority=properties.priority),
                    mandatory=True,
                )
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                # Not acknowledged on .XQ, so it stays there when the channel closes.
                raise ServiceUnavailable(
                    f"the broker did not confirm a replayed message on {queue}; "
                    f"{moved} replayed before it"
                ) from None
            channel.basic_ack(method.delivery_tag)
            moved += 1
        for tag in kept_back:
            channel.basic_nack(tag, requeue=True)
    return moved


def _require_queue(connection: pika.BlockingConnection, queue: str) -> None:
    """Check ``queue`` exists; replay never declares it (Dramatiq owns its arguments)."""
    channel = connection.channel()
    try:
        channel.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code != 404:
            raise
        raise ServiceUnavailable(f"queue {queue} does not exist; start its worker once") from None
    channel.close()


@contextlib.contextmanager
def _connection(broker_url: str) -> Iterator[pika.BlockingConnection]:
    parameters = node_parameters(broker_url)
    for node in parameters:
        node.connection_attempts = 1
        node.socket_timeout = 5
        node.blocked_connection_timeout = 10
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPError as error:
        raise ServiceUnavailable(f"broker unreachable: {error!r}") from None
    try:
        yield connection
    except pika.exceptions.AMQPConnectionError as error:
        raise ServiceUnavailable(f"broker connection lost: {error!r}") from None
    finally:
        if connection.is_open:
            connection.close()


@contextlib.contextmanager
def _dead_letter_channel(
    connection: pika.BlockingConnection, queue: str
) -> Iterator[tuple[BlockingChannel, int]]:
    """A channel and how many messages wait in ``queue``'s ``.XQ`` (0 when it does not exist)."""
    channel = connection.channel()
    try:
        declared = channel.queue_declare(dead_letter_queue(queue), passive=True)
        waiting = declared.method.message_count
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code != 404:
            raise
        channel = connection.channel()  # the broker closed the old one
        waiting = 0
    try:
        yield channel, waiting
    finally:
        if channel.is_open:
            channel.close()


def _decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return message if isinstance(message, dict) else {}


def _canonical(queue_name: str) -> str:
    for suffix in (".DQ", DEAD_LETTER_SUFFIX):
        if queue_name.endswith(suffix):
            return queue_name[: -len(suffix)]
    return queue_name


def _subject_ids(queue: str, args: Any, kwargs: Any) -> tuple[str | None, str | None]:
    """The delivery id and request id a message is about; nothing else of its arguments."""
    fields: dict[str, Any] = dict(kwargs) if isinstance(kwargs, dict) else {}
    first = args[0] if isinstance(args, list) and args else None
    if isinstance(first, dict):
        fields = {**first, **fields}
    elif isinstance(first, str):
        fields.setdefault("request_id" if queue == REQUESTS_QUEUE else "delivery_id", first)
    return _short_id(fields.get("delivery_id")), _short_id(fields.get("request_id"))


def _short_id(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= _ID_MAX_LENGTH else None


def _first_death(headers: Mapping[str, Any] | None) -> Mapping[str, Any]:
    deaths = (headers or {}).get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}


def _last_line(traceback: Any) -> str | None:
    if not isinstance(traceback, str) or not traceback.strip():
        return None
    return traceback.strip().splitlines()[-1].strip()[:_ERROR_MAX_LENGTH]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _iso_from_millis(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return _iso(datetime.fromtimestamp(value / 1000, UTC))


def _iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    return iso_utc(value)
