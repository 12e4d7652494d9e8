"""The end-to-end ceiling: a Dramatiq two-hop no-op pipeline to the same webhook receiver.

Shaped like the product's path with the work taken out: the bench api route publishes a
confirmed, persistent message to ``bench.hop1`` (as the api publishes ``OtpRequested``);
``bench_hop1`` enqueues one message to ``bench.hop2`` (as the fan-out enqueues a
delivery); ``bench_hop2`` POSTs a webhook-sized JSON body to the receiver over a
kept-alive connection (as the delivery actor does). No database, no templates, no
signatures: what is left is what Dramatiq, RabbitMQ and HTTP cost.

Run with ``python -m dramatiq bench.pipeline --queues bench.hop1 bench.hop2 ...`` and
``BENCH_RECEIVER_URL`` set; the broker comes from ``OTP_BROKER_URL``, built like the
product's (:func:`core.messaging.broker.build_broker`).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import dramatiq
import httpx

from core.messaging.broker import confirmed_enqueue

HOP1_QUEUE = "bench.hop1"
HOP2_QUEUE = "bench.hop2"
HOP1_ACTOR = "bench_hop1"
HOP2_ACTOR = "bench_hop2"
PIPELINE_QUEUES = (HOP1_QUEUE, HOP2_QUEUE)

_local = threading.local()


def pipeline_message(username: str) -> dramatiq.Message[Any]:
    """The first hop's message, built by name so the api needs no actor imported."""
    return dramatiq.Message(
        queue_name=HOP1_QUEUE,
        actor_name=HOP1_ACTOR,
        args=({"Username": username},),
        kwargs={},
        options={},
    )


def publish_confirmed(broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> None:
    """Publish as the product does (the api's ``OtpRequested``, the fan-out's deliveries):
    over the process's pipelined confirmed connection when the broker has one."""
    confirmed_enqueue(broker)(message)


def webhook_sized_body(username: str) -> bytes:
    """About the size of an OTP webhook body, with the key the receiver correlates on."""
    return json.dumps(
        {
            "MessageType": "OneTimePassword",
            "Recipient": {"ID": username, "Username": username, "xp": {}},
            "EventBody": {"Username": username, "OneTimePassword": "00000000"},
            "Message": {"Subject": "x" * 40, "Text": "x" * 300, "Html": "x" * 500},
        }
    ).encode()


def _client() -> httpx.Client:
    client: httpx.Client | None = getattr(_local, "client", None)
    if client is None:
        client = httpx.Client(timeout=5.0)
        _local.client = client
    return client


def declare(broker: dramatiq.Broker) -> None:
    """Declare both hops' actors on ``broker`` (the dramatiq CLI imports this module)."""

    @dramatiq.actor(actor_name=HOP1_ACTOR, queue_name=HOP1_QUEUE, broker=broker, max_retries=3)
    def bench_hop1(payload: dict[str, str]) -> None:
        publish_confirmed(
            broker,
            dramatiq.Message(
                queue_name=HOP2_QUEUE,
                actor_name=HOP2_ACTOR,
                args=(payload,),
                kwargs={},
                options={},
            ),
        )

    @dramatiq.actor(actor_name=HOP2_ACTOR, queue_name=HOP2_QUEUE, broker=broker, max_retries=3)
    def bench_hop2(payload: dict[str, str]) -> None:
        response = _client().post(
            os.environ["BENCH_RECEIVER_URL"],
            content=webhook_sized_body(payload["Username"]),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()


if os.environ.get("BENCH_PIPELINE_WORKER") == "1":
    # Only the pipeline's worker processes build a broker when importing this module.
    from core.messaging.broker import build_broker
    from core.platform.settings import load_settings

    _broker = build_broker(load_settings())
    dramatiq.set_broker(_broker)
    declare(_broker)
