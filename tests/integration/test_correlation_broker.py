"""The correlation id crosses real RabbitMQ: request → first message → follow-up message."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq import Worker

from core.messaging.broker import build_broker
from core.platform.correlation import (
    MESSAGE_OPTION,
    bind_correlation_id,
    current_correlation_id,
    unbind_correlation_id,
)
from core.platform.settings import Settings

Seen = queue.Queue[tuple[str, str | None]]


@pytest.fixture
def pipeline(settings: Settings) -> Iterator[tuple[dramatiq.Broker, Seen]]:
    """Two actors on the session's vhost: ``fan_out`` enqueues ``deliver``; both report the
    correlation id they run under."""
    broker = build_broker(settings)
    seen: Seen = queue.Queue()

    @dramatiq.actor(broker=broker, queue_name="otp.test.fanout", max_retries=0)
    def fan_out(count: int) -> None:
        seen.put(("fan_out", current_correlation_id()))
        for _ in range(count):
            deliver.send()

    @dramatiq.actor(broker=broker, queue_name="otp.test.delivery", max_retries=0)
    def deliver() -> None:
        seen.put(("deliver", current_correlation_id()))

    for name in ("otp.test.fanout", "otp.test.delivery"):
        broker.flush(name)
    worker = Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    yield broker, seen
    worker.stop()
    broker.close()


def test_messages_sent_during_a_request_carry_its_id_to_every_follow_up(
    pipeline: tuple[dramatiq.Broker, Seen],
) -> None:
    broker, seen = pipeline
    token = bind_correlation_id("req-from-http-1")
    try:
        message = broker.get_actor("fan_out").send(2)
    finally:
        unbind_correlation_id(token)
    assert message.options[MESSAGE_OPTION] == "req-from-http-1"
    observed = sorted(seen.get(timeout=30) for _ in range(3))
    assert observed == [
        ("deliver", "req-from-http-1"),
        ("deliver", "req-from-http-1"),
        ("fan_out", "req-from-http-1"),
    ]


def test_a_message_without_an_id_runs_under_its_message_id_and_passes_that_on(
    pipeline: tuple[dramatiq.Broker, Seen],
) -> None:
    broker, seen = pipeline
    assert current_correlation_id() is None
    message = broker.get_actor("fan_out").send(1)
    assert MESSAGE_OPTION not in message.options
    observed = dict(seen.get(timeout=30) for _ in range(2))
    assert observed == {"fan_out": message.message_id, "deliver": message.message_id}


def test_worker_threads_do_not_leak_one_message_id_into_the_next(
    pipeline: tuple[dramatiq.Broker, Seen],
) -> None:
    broker, seen = pipeline
    for index in range(4):
        token = bind_correlation_id(f"req-{index}")
        try:
            broker.get_actor("deliver").send()
        finally:
            unbind_correlation_id(token)
    observed = sorted(correlation for _, correlation in (seen.get(timeout=30) for _ in range(4)))
    assert observed == ["req-0", "req-1", "req-2", "req-3"]
