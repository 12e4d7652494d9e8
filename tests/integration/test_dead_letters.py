"""Dead letters on the test session's own RabbitMQ vhost: list without consuming, replay."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from core.messaging.routes import DELIVER_WEBHOOK, REQUESTS_QUEUE
from core.platform.errors import ServiceUnavailable
from tests.processes import otp_command
from workers.dead_letters import (
    dead_letter_queue,
    list_dead_letters,
    replay_dead_letters,
)

WEBHOOK_QUEUE = DELIVER_WEBHOOK.queue_name

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "workers/delivery.py", line 40, in deliver_webhook\n'
    "RuntimeError: webhook answered 503\n"
)


@pytest.fixture
def channel(clean_broker: str) -> Iterator[Any]:
    """A pika channel on the test vhost, with the OTP queues declared as Dramatiq does."""
    broker = RabbitmqBroker(url=clean_broker)
    for queue in (WEBHOOK_QUEUE, REQUESTS_QUEUE):
        broker.declare_queue(queue, ensure=True)
    broker.close()
    connection = pika.BlockingConnection(pika.URLParameters(clean_broker))
    try:
        yield connection.channel()
    finally:
        connection.close()


def waiting(channel: Any, queue: str) -> int:
    count: int = channel.queue_declare(queue, passive=True).method.message_count
    return count


def wait_for_waiting(channel: Any, queue: str, expected: int) -> None:
    """RabbitMQ dead-letters asynchronously: poll until ``queue`` holds ``expected``."""
    deadline = time.monotonic() + 10
    while waiting(channel, queue) != expected:
        assert time.monotonic() < deadline, f"{queue} never held {expected} messages"
        time.sleep(0.05)


def dead_letter(channel: Any, message: dramatiq.Message[Any]) -> None:
    """Publish to the queue, then reject it: RabbitMQ moves it to .XQ as Dramatiq's nack does."""
    channel.basic_publish(
        "", message.queue_name, message.encode(), pika.BasicProperties(delivery_mode=2)
    )
    method = None
    deadline = time.monotonic() + 10
    while method is None:
        assert time.monotonic() < deadline, "the published message never arrived"
        method, _properties, _body = channel.basic_get(message.queue_name, auto_ack=False)
    channel.basic_nack(method.delivery_tag, requeue=False)
    wait_for_waiting(channel, dead_letter_queue(message.queue_name), 1)


def failed_webhook_delivery(delivery_id: str = "dlv-7f3a") -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=WEBHOOK_QUEUE,
        actor_name="deliver_webhook",
        args=(delivery_id,),
        kwargs={},
        options={"retries": 4, "traceback": TRACEBACK, "requeue_timestamp": 1},
        message_timestamp=1_790_000_000_000,
    )


def test_list_describes_a_dead_letter_without_consuming_it(channel: Any, clean_broker: str) -> None:
    message = failed_webhook_delivery()
    dead_letter(channel, message)

    letters = list_dead_letters(clean_broker, [WEBHOOK_QUEUE, REQUESTS_QUEUE], limit=10)

    assert [letter.as_dict() for letter in letters] == [
        {
            "queue": WEBHOOK_QUEUE,
            "message_id": message.message_id,
            "actor": "deliver_webhook",
            "retries": 4,
            "error": "RuntimeError: webhook answered 503",
            "enqueued_at": "2026-09-21T14:13:20Z",
            "dead_lettered_at": letters[0].dead_lettered_at,
            "reason": "rejected",
            "delivery_id": "dlv-7f3a",
            "request_id": None,
        }
    ]
    assert letters[0].dead_lettered_at is not None
    assert waiting(channel, dead_letter_queue(WEBHOOK_QUEUE)) == 1
    assert list_dead_letters(clean_broker, [WEBHOOK_QUEUE], limit=10) == letters


def test_list_shows_a_fan_out_requests_id_but_never_its_email_or_username(
    channel: Any, clean_broker: str
) -> None:
    request = {
        "v": 1,
        "request_id": "req-1",
        "client_id": "C",
        "email": "ada@example.com",
        "username": "ada",
        "requested_at": "2026-11-27T08:00:00Z",
    }
    dead_letter(
        channel,
        dramatiq.Message(
            queue_name=REQUESTS_QUEUE,
            actor_name="issue_otps",
            args=(request,),
            kwargs={},
            options={},
        ),
    )

    [letter] = list_dead_letters(clean_broker, [REQUESTS_QUEUE], limit=10)

    assert letter.request_id == "req-1"
    printed = json.dumps(letter.as_dict())
    assert "ada@example.com" not in printed
    assert '"ada"' not in printed


def test_replay_puts_it_back_on_its_queue_with_a_fresh_retry_budget(
    channel: Any, clean_broker: str
) -> None:
    message = failed_webhook_delivery()
    dead_letter(channel, message)

    replayed = replay_dead_letters(clean_broker, [WEBHOOK_QUEUE])

    assert replayed == {WEBHOOK_QUEUE: 1}
    assert waiting(channel, dead_letter_queue(WEBHOOK_QUEUE)) == 0
    method, properties, body = channel.basic_get(WEBHOOK_QUEUE, auto_ack=True)
    assert method is not None
    assert properties.delivery_mode == 2
    back = dramatiq.Message.decode(body)
    assert back.message_id == message.message_id
    assert back.queue_name == WEBHOOK_QUEUE
    assert back.args == ("dlv-7f3a",)
    assert back.options == {"retries": 0}
    assert back.message_timestamp == message.message_timestamp


def test_replay_respects_the_limit_and_leaves_the_rest(channel: Any, clean_broker: str) -> None:
    for number in range(3):
        dead_letter_id = f"dlv-{number}"
        channel.basic_publish("", WEBHOOK_QUEUE, failed_webhook_delivery(dead_letter_id).encode())
    for _ in range(3):
        method = None
        while method is None:
            method, _p, _b = channel.basic_get(WEBHOOK_QUEUE, auto_ack=False)
        channel.basic_nack(method.delivery_tag, requeue=False)
    wait_for_waiting(channel, dead_letter_queue(WEBHOOK_QUEUE), 3)

    assert replay_dead_letters(clean_broker, [WEBHOOK_QUEUE], limit=2) == {WEBHOOK_QUEUE: 2}
    assert waiting(channel, dead_letter_queue(WEBHOOK_QUEUE)) == 1
    assert waiting(channel, WEBHOOK_QUEUE) == 2


def test_an_unreachable_broker_is_reported_as_unavailable() -> None:
    with pytest.raises(ServiceUnavailable, match="broker unreachable"):
        list_dead_letters("amqp://guest:guest@127.0.0.1:1/%2F", [WEBHOOK_QUEUE], limit=1)


def run_otp(*args: str, broker_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        otp_command(*args),
        env={**os.environ, "OTP_BROKER_URL": broker_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_lists_then_replays_a_dead_letter(channel: Any, clean_broker: str) -> None:
    message = failed_webhook_delivery()
    dead_letter(channel, message)

    listed = run_otp("dead-letters", "list", "--queue", WEBHOOK_QUEUE, broker_url=clean_broker)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert json.loads(line)["message_id"] == message.message_id
    assert waiting(channel, dead_letter_queue(WEBHOOK_QUEUE)) == 1

    replayed = run_otp("dead-letters", "replay", broker_url=clean_broker)
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["replayed"] == 1
    assert waiting(channel, WEBHOOK_QUEUE) == 1


def test_the_cli_says_in_one_line_when_the_broker_is_down() -> None:
    result = run_otp("dead-letters", "list", broker_url="amqp://guest:guest@127.0.0.1:1/%2F")

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("otp dead-letters: broker unreachable")
    assert result.stdout == ""
