"""Reading what the api put on ``otp.requests`` straight from RabbitMQ with pika."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import dramatiq
import pika
import pika.exceptions

from core.messaging.routes import REQUESTS_QUEUE


@dataclass(frozen=True)
class QueuedMessage:
    body: bytes
    delivery_mode: int | None
    message: dramatiq.Message[object]


def queued_count(broker_url: str) -> int:
    """Messages ready on ``otp.requests`` (0 when the queue does not exist yet)."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
            declared = channel.queue_declare(REQUESTS_QUEUE, passive=True)
            return int(declared.method.message_count)
        return 0
    finally:
        connection.close()


def take_all(broker_url: str) -> list[QueuedMessage]:
    """Remove and return every message on ``otp.requests``."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    taken: list[QueuedMessage] = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(REQUESTS_QUEUE, auto_ack=True)
            if method is None:
                return taken
            taken.append(
                QueuedMessage(
                    body=body,
                    delivery_mode=properties.delivery_mode,
                    message=dramatiq.Message.decode(body),
                )
            )
    finally:
        connection.close()
