"""OTP_BROKER_URL as a list of nodes, and the queue type every declared queue gets."""

from __future__ import annotations

from typing import Any

import pytest

from core.messaging.broker import ConfirmingRabbitmqBroker, node_urls
from core.platform.errors import SettingsError
from core.platform.settings import load_settings


def test_a_comma_separated_broker_url_is_one_node_per_url_in_the_given_order() -> None:
    urls = node_urls(" amqp://u:p@mq1:5672/otp , amqp://u:p@mq2:5672/otp,amqp://u:p@mq3/otp ")

    assert [url.split("?")[0] for url in urls] == [
        "amqp://u:p@mq1:5672/otp",
        "amqp://u:p@mq2:5672/otp",
        "amqp://u:p@mq3/otp",
    ]


def test_every_node_gets_short_connection_timeouts_unless_its_url_sets_its_own() -> None:
    first, second = node_urls("amqp://u:p@mq:5672/%2F?socket_timeout=7;amqp://u:p@mq2/v")

    assert first.startswith("amqp://u:p@mq:5672/%2F?")
    assert "socket_timeout=7" in first
    assert "stack_timeout=3" in first
    assert "connection_attempts=1" in second
    assert "socket_timeout=2" in second


def test_the_broker_tries_every_node_of_the_list_for_publishing_and_consuming() -> None:
    broker = ConfirmingRabbitmqBroker(urls=node_urls("amqp://mq1:5001/v,amqp://mq2:5002/v"))

    assert [(p.host, p.port) for p in broker.parameters] == [("mq1", 5001), ("mq2", 5002)]
    assert broker.pipeline.parameters == broker.parameters


class _RecordingChannel:
    def __init__(self) -> None:
        self.declared: dict[str, dict[str, Any]] = {}

    def queue_declare(self, *, queue: str, durable: bool, arguments: dict[str, Any]) -> None:
        assert durable
        self.declared[queue] = arguments


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_the_queue_its_delay_and_its_dead_letter_queue_are_declared_with_the_queue_type(
    queue_type: Any,
) -> None:
    broker = ConfirmingRabbitmqBroker(urls=node_urls("amqp://mq1/v"), queue_type=queue_type)
    channel = _RecordingChannel()
    broker.state.channel = channel  # dramatiq's per-thread channel; no connection opened

    broker._declare_queue("otp.requests")
    broker._declare_dq_queue("otp.requests")
    broker._declare_xq_queue("otp.requests")

    assert set(channel.declared) == {"otp.requests", "otp.requests.DQ", "otp.requests.XQ"}
    # Classic keeps dramatiq's arguments as they were: queues declared before stay equivalent.
    expected = {"quorum"} if queue_type == "quorum" else {None}
    assert {args.get("x-queue-type") for args in channel.declared.values()} == expected
    assert channel.declared["otp.requests"]["x-dead-letter-routing-key"] == "otp.requests.XQ"
    assert "x-message-ttl" in channel.declared["otp.requests.XQ"]
    assert not any("x-max-priority" in args for args in channel.declared.values())


def test_queue_type_and_prepared_statements_are_read_from_the_environment() -> None:
    default = load_settings({})
    chosen = load_settings(
        {"OTP_BROKER_QUEUE_TYPE": "quorum", "OTP_DATABASE_PREPARED_STATEMENTS": "off"}
    )

    assert (default.broker_queue_type, default.database_prepared_statements) == ("classic", True)
    assert (chosen.broker_queue_type, chosen.database_prepared_statements) == ("quorum", False)
    with pytest.raises(SettingsError, match="OTP_BROKER_QUEUE_TYPE"):
        load_settings({"OTP_BROKER_QUEUE_TYPE": "stream"})
