"""Quorum queues and a list of broker nodes, on this machine's real RabbitMQ.

The queue types are read back from RabbitMQ itself (``rabbitmqctl list_queues``), in a
vhost of the test's own: a queue's type is fixed when it is first declared. Node failover
is exercised with two loopback proxies in front of the one RabbitMQ, standing for two
nodes; the three-node cluster with real node deaths is tests/reliability/test_cluster.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import dramatiq
import pika
import pytest

from core.messaging.broker import ConfirmingRabbitmqBroker, build_broker
from core.messaging.confirms import PublishFailed
from core.messaging.routes import ALL_QUEUES, REQUESTS_QUEUE
from core.platform.settings import Settings
from tests import services
from tests.otp_queue import take_all
from tests.tcp_proxy import proxy_to


def queue_types(broker_url: str) -> dict[str, str]:
    """Every queue of the URL's vhost and its type, as RabbitMQ reports them."""
    vhost = unquote(urlsplit(broker_url).path.lstrip("/")) or "/"
    result = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type", "--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {entry["name"]: entry["type"] for entry in json.loads(result.stdout)}


@pytest.fixture
def own_vhost(broker_url: str) -> Iterator[str]:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to read queue types back from RabbitMQ")
    with services.rabbitmq_server_url() as server, services.fresh_vhost(server) as url:
        assert url != server, "no vhost of the test's own could be made"
        yield url


def a_message(text: str) -> dramatiq.Message[None]:
    return dramatiq.Message(
        queue_name=REQUESTS_QUEUE, actor_name="issue_otps", args=(text,), kwargs={}, options={}
    )


@pytest.mark.parametrize("queue_type", ["quorum", "classic"])
def test_every_otp_queue_with_its_delay_and_dead_letter_queue_has_the_configured_type(
    settings: Settings, own_vhost: str, queue_type: str
) -> None:
    broker = build_broker(settings.replace(broker_url=own_vhost, broker_queue_type=queue_type))
    assert isinstance(broker, ConfirmingRabbitmqBroker)
    try:
        for queue in ALL_QUEUES:
            broker.declare_queue(queue, ensure=True)
        kept = a_message("kept")
        broker.enqueue_confirmed(kept)
    finally:
        broker.close()

    types = queue_types(own_vhost)
    expected = {f"{queue}{suffix}" for queue in ALL_QUEUES for suffix in ("", ".DQ", ".XQ")}
    assert set(types) == expected
    assert set(types.values()) == {queue_type}
    # A message a worker rejects (dramatiq nacks without requeue) is dead-lettered to .XQ.
    dead = dead_lettered_on_reject(own_vhost)
    assert dead is not None
    assert dramatiq.Message.decode(dead).message_id == kept.message_id


def dead_lettered_on_reject(broker_url: str) -> bytes | None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        channel = connection.channel()
        method, _properties, _body = channel.basic_get(REQUESTS_QUEUE)
        assert method is not None
        channel.basic_nack(method.delivery_tag, requeue=False)
        for _ in range(50):
            method, _properties, body = channel.basic_get(f"{REQUESTS_QUEUE}.XQ", auto_ack=True)
            if method is not None:
                return body
            connection.sleep(0.1)
        return None
    finally:
        connection.close()


def test_the_publisher_uses_the_first_node_that_answers_and_moves_on_when_it_dies(
    settings: Settings, clean_broker: str
) -> None:
    with proxy_to(clean_broker) as first, proxy_to(clean_broker) as second:
        first.close()  # nothing listens there now: a node that is down
        with proxy_to(clean_broker) as third:
            nodes = [first.url_for(clean_broker), second.url_for(clean_broker)]
            nodes.append(third.url_for(clean_broker))
            broker = build_broker(settings.replace(broker_url=",".join(nodes)))
            assert isinstance(broker, ConfirmingRabbitmqBroker)
            try:
                broker.enqueue_confirmed(a_message("to the second node"))
                connected = [proxy.open_connections for proxy in (first, second, third)]
                second.close()  # the node it is connected to dies
                outcomes = []
                for text in ("during", "after"):
                    try:
                        broker.enqueue_confirmed(a_message(text))
                        outcomes.append("confirmed")
                    except PublishFailed:
                        outcomes.append("failed")
            finally:
                broker.close()

    assert connected[0] == connected[2] == 0
    assert connected[1] > 0
    # The lost connection is retried within the same publish, on the next node.
    assert outcomes == ["confirmed", "confirmed"]
    assert [queued.message.args[0] for queued in take_all(clean_broker)] == [
        "to the second node",
        "during",
        "after",
    ]
