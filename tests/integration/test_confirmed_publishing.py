"""Pipelined confirmed publishing (``core.messaging.confirms``) on real RabbitMQ."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dramatiq
import pika
import pytest

from core.messaging.broker import ConfirmingRabbitmqBroker, build_broker
from core.messaging.confirms import (
    ConnectFailed,
    ConnectionLost,
    PipelinedPublisher,
    PublishFailed,
    Unroutable,
)
from core.messaging.routes import REQUESTS_QUEUE
from core.platform.correlation import MESSAGE_OPTION, bind_correlation_id, unbind_correlation_id
from core.platform.settings import Settings
from tests.otp_queue import queued_count, take_all
from tests.tcp_proxy import proxy_to


@pytest.fixture
def publisher(clean_broker: str) -> Iterator[PipelinedPublisher]:
    publisher = PipelinedPublisher([pika.URLParameters(clean_broker)])
    yield publisher
    publisher.close()


@pytest.fixture
def broker(settings: Settings, clean_broker: str) -> Iterator[ConfirmingRabbitmqBroker]:
    broker = build_broker(settings)
    assert isinstance(broker, ConfirmingRabbitmqBroker)
    yield broker
    broker.close()


def publisher_threads() -> int:
    return sum(thread.name == "amqp-publisher" for thread in threading.enumerate())


def a_message(text: str) -> dramatiq.Message[None]:
    return dramatiq.Message(
        queue_name=REQUESTS_QUEUE, actor_name="issue_otps", args=(text,), kwargs={}, options={}
    )


def test_publishes_from_many_threads_each_return_once_confirmed_and_are_all_queued(
    broker: ConfirmingRabbitmqBroker, clean_broker: str
) -> None:
    broker.declare_queue(REQUESTS_QUEUE, ensure=True)
    bodies = [f"message {n}".encode() for n in range(400)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda body: broker.pipeline.publish(REQUESTS_QUEUE, body), bodies))

    # Every publish returned after its confirm, so every message is on the queue by now.
    assert queued_count(clean_broker) == len(bodies)


def test_enqueue_confirmed_queues_a_persistent_dramatiq_message_with_the_correlation_id(
    broker: ConfirmingRabbitmqBroker, clean_broker: str
) -> None:
    token = bind_correlation_id("req-confirmed-1")
    try:
        broker.enqueue_confirmed(a_message("hello"))
    finally:
        unbind_correlation_id(token)

    [queued] = take_all(clean_broker)
    assert queued.delivery_mode == 2
    assert queued.message.actor_name == "issue_otps"
    assert queued.message.args == ("hello",)
    assert queued.message.options[MESSAGE_OPTION] == "req-confirmed-1"


def test_a_message_no_queue_takes_is_refused_as_unroutable(
    publisher: PipelinedPublisher,
) -> None:
    with pytest.raises(Unroutable):
        publisher.publish("otp.test.no-such-queue", b"lost")


def test_a_broker_that_refuses_connections_fails_the_publish_at_once(
    clean_broker: str,
) -> None:
    dead = PipelinedPublisher([pika.URLParameters("amqp://guest:guest@127.0.0.1:1/%2F")])
    try:
        with pytest.raises(ConnectFailed):
            dead.publish(REQUESTS_QUEUE, b"nowhere")
    finally:
        dead.close()


def test_a_cut_connection_fails_what_was_unconfirmed_and_the_next_publish_reconnects(
    broker: ConfirmingRabbitmqBroker, clean_broker: str
) -> None:
    broker.declare_queue(REQUESTS_QUEUE, ensure=True)
    with proxy_to(clean_broker) as proxy:
        publisher = PipelinedPublisher([pika.URLParameters(proxy.url_for(clean_broker))])
        try:
            publisher.publish(REQUESTS_QUEUE, b"before")
            proxy.cut_connections()
            outcomes: list[str] = []
            for body in (b"during", b"after", b"again"):
                try:
                    publisher.publish(REQUESTS_QUEUE, body)
                    outcomes.append("confirmed")
                except ConnectionLost:
                    outcomes.append("lost")
        finally:
            publisher.close()

    # The cut is noticed either before the next publish or by it; after that, all is well.
    assert outcomes[1:] == ["confirmed", "confirmed"]
    assert queued_count(clean_broker) == 1 + outcomes.count("confirmed")


def test_close_stops_the_io_thread_and_later_publishes_fail(
    publisher: PipelinedPublisher,
) -> None:
    with pytest.raises(Unroutable):
        publisher.publish("otp.test.no-such-queue", b"opens the connection")
    running_before = publisher_threads()

    publisher.close()

    assert publisher_threads() == running_before - 1
    with pytest.raises(PublishFailed):
        publisher.publish(REQUESTS_QUEUE, b"too late")
