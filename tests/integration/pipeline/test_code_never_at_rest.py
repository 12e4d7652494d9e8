"""After a full flow the code is in the delivered webhook and nowhere else.

Invariant 1 of docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.middleware import Middleware
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from core.messaging.routes import ALL_QUEUES, ISSUE_OTPS, REQUESTS_QUEUE
from core.platform.logging import JsonFormatter
from tests.factories import make_buyer, make_client, make_user, make_webhook_sender
from tests.integration.pipeline.conftest import PipelineFactory
from tests.webhook_receiver import WebhookReceiver

_SCANNED_TYPES = ("text", "character varying", "bytea", "jsonb", "json")


class RecordEveryMessage(Middleware):
    """Keeps the encoded body of every message published, retries and delays included."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        self.bodies.append(message.encode())


def database_hits(engine: Engine, needle: str) -> list[str]:
    """``table.column`` of every text, bytea or JSON value in the database holding needle."""
    hits = []
    with engine.connect() as connection:
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = ANY(:types)"
            ),
            {"types": list(_SCANNED_TYPES)},
        ).all()
        for table, column, data_type in columns:
            if data_type == "bytea":
                condition = f'position(CAST(:needle AS bytea) IN "{column}") > 0'
            else:
                condition = f'CAST("{column}" AS text) LIKE :pattern'
            found = connection.execute(
                text(f'SELECT count(*) FROM "{table}" WHERE {condition}'),
                {"needle": needle, "pattern": f"%{needle}%"},
            ).scalar_one()
            if found:
                hits.append(f"{table}.{column}")
    return hits


def queued_bodies(broker_url: str) -> list[bytes]:
    """Every message still in an OTP queue, its delay queue or its dead-letter queue."""
    bodies = []
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        for queue in ALL_QUEUES:
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                channel = connection.channel()
                with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                    while True:
                        _method, _properties, body = channel.basic_get(name, auto_ack=False)
                        if body is None:
                            break
                        bodies.append(body)
                if channel.is_open:
                    channel.close()  # unacked messages go back to their queues
    finally:
        connection.close()
    return bodies


def test_after_a_full_flow_the_code_is_in_no_column_no_queued_message_and_no_log_line(
    start_pipeline: PipelineFactory,
    receiver: WebhookReceiver,
    committed_session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(committed_session, allow_any_buyer=True)
    make_webhook_sender(committed_session, url=receiver.url)
    make_webhook_sender(committed_session, url=f"{receiver.url}/second")
    buyer = make_buyer(committed_session)
    users = [make_user(committed_session, buyer=buyer, email="pair@example.com") for _ in "ab"]
    committed_session.commit()
    receiver.script(503)  # one retry through the delay queue
    pipeline = start_pipeline()
    recorder = RecordEveryMessage()
    pipeline.broker.add_middleware(recorder)

    event = pipeline.request(client.id, email="pair@example.com")
    # And one message that ends in the dead-letter queue (.XQ).
    pipeline.broker.enqueue(
        dramatiq.Message(
            queue_name=REQUESTS_QUEUE,
            actor_name=ISSUE_OTPS.actor_name,
            args=({"v": 99},),
            kwargs={},
            options={},
        )
    )
    webhooks = receiver.wait_for(5)  # 2 users x 2 senders, one retried
    for delivery in pipeline.deliveries():
        pipeline.wait_until_final(delivery.id)
    pipeline.settle()

    codes = {hook.code for hook in webhooks}
    assert len(codes) == len(users)
    assert [d.status for d in pipeline.deliveries()] == ["delivered"] * 4
    engine = pipeline.runtime.engine
    assert pipeline.runtime.settings.broker_url is not None
    leftover = queued_bodies(pipeline.runtime.settings.broker_url)
    assert any(b'"v": 99' in body or b'"v":99' in body for body in leftover)  # the dead letter
    messages = recorder.bodies + leftover
    formatter = JsonFormatter()
    log_lines = [formatter.format(record) for record in caplog.records]
    # The scans can find things: the request id is stored, queued and logged.
    assert database_hits(engine, event.request_id)
    assert any(event.request_id.encode() in body for body in messages)
    assert any(event.request_id in line for line in log_lines)
    for code in codes:
        assert database_hits(engine, code) == []
        assert [body for body in messages if code.encode() in body] == []
        assert [line for line in log_lines if code in line] == []
