"""The suite's own tools are tested first: a fault that does not happen proves nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pika
import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from tests.factories import make_user
from tests.reliability.faults import FaultProxy, proxied
from tests.reliability.leaks import scan_database, scan_logs, scan_queues
from tests.reliability.receiver import WebhookReceiver, new_signing_key, random_failures
from tests.services import _libpq_url

PLANTED_QUEUE = "otp.reliability.planted.XQ"


def _select_one(url: str) -> int:
    with psycopg.connect(_libpq_url(url), connect_timeout=3) as connection:
        row = connection.execute("SELECT 1").fetchone()
        assert row is not None
        return int(row[0])


def test_a_cut_proxy_drops_live_connections_refuses_new_ones_and_recovers(
    database_url: str,
) -> None:
    with proxied(database_url, 5432) as (proxy, url):
        live = psycopg.connect(_libpq_url(url), autocommit=True)
        assert live.execute("SELECT 1").fetchone() == (1,)
        assert proxy.cut() == 1
        with pytest.raises(psycopg.OperationalError):
            live.execute("SELECT 1")
        live.close()
        with pytest.raises(psycopg.OperationalError):
            _select_one(url)
        proxy.restore()
        assert _select_one(url) == 1


def test_a_cut_proxy_closes_the_broker_connection_from_the_clients_side(
    clean_broker: str,
) -> None:
    with proxied(clean_broker, 5672) as (proxy, url):
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        proxy.cut()
        with pytest.raises(pika.exceptions.AMQPError):
            channel.queue_declare("otp.reliability.probe", auto_delete=True)
            connection.process_data_events(time_limit=1)
        assert connection.is_closed
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(pika.URLParameters(url))
        proxy.restore()
        pika.BlockingConnection(pika.URLParameters(url)).close()


def test_the_proxy_outage_restores_even_when_the_block_fails(database_url: str) -> None:
    with proxied(database_url, 5432) as (proxy, url):
        with pytest.raises(RuntimeError), proxy.outage(0):
            raise RuntimeError("boom")
        assert not proxy.is_cut
        assert _select_one(url) == 1


def test_the_receiver_records_ids_codes_and_verifies_signatures() -> None:
    key = new_signing_key()
    with WebhookReceiver(key, random_failures(0.5, seed=7)) as receiver:
        body = json.dumps(
            {"OcLogIdHeader": "r1", "EventBody": {"Username": "u1", "OneTimePassword": "12345678"}}
        )
        statuses = []
        for _ in range(20):
            sent_at = datetime.now(UTC)
            headers = {
                "webhook-id": "msg_1",
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": Webhook(key).sign("msg_1", sent_at, body),
            }
            url = f"http://127.0.0.1:{receiver.port}/hooks/x"
            statuses.append(httpx.post(url, content=body, headers=headers).status_code)
        forged = httpx.post(
            f"http://127.0.0.1:{receiver.port}/hooks/x",
            content=body,
            headers={
                "webhook-id": "msg_2",
                "webhook-timestamp": "1",
                "webhook-signature": "v1,AAAA",
            },
        )
    assert {500, 204} == set(statuses)
    attempts = receiver.ledger.snapshot()
    assert [a.signature_valid for a in attempts] == [True] * 20 + [False]
    assert receiver.ledger.codes() == {"12345678"}
    assert receiver.ledger.accepted_request_ids() == {"r1"}
    assert len(receiver.ledger.accepted()["msg_1"]) == statuses.count(204)
    assert forged.status_code in {204, 500}


def test_the_leak_scanner_finds_a_planted_code_in_a_table_a_queue_and_a_log(
    committed_db: Engine, database_url: str, clean_broker: str, tmp_path: Path
) -> None:
    planted, innocent = "73019264", "55501234"
    with Session(committed_db) as session, session.begin():
        make_user(session, xp={"note": f"code {planted}"}, phone="1764230400123")
    connection = pika.BlockingConnection(pika.URLParameters(clean_broker))
    channel = connection.channel()
    # A queue of its own: the scanner lists every queue of the vhost, whatever its name.
    channel.queue_declare(PLANTED_QUEUE, durable=True)
    channel.basic_publish("", PLANTED_QUEUE, json.dumps({"args": [planted]}).encode())
    connection.close()
    log = tmp_path / "service.log"
    log.write_text(f'{{"message": "sent", "code": "{planted}", "ts": 1764230400}}\n')

    table_leaks, table_report = scan_database(database_url, {planted, innocent, "17642304"})
    queue_leaks, queue_report = scan_queues(clean_broker, {planted, innocent})
    log_leaks, _ = scan_logs([log], {planted, innocent, "17642304"})

    assert [(leak.where, leak.code) for leak in table_leaks] == [("table users", planted)]
    assert [(leak.where, leak.code) for leak in queue_leaks] == [
        (f"queue {PLANTED_QUEUE}", planted)
    ]
    assert queue_report.messages == 1
    assert [leak.code for leak in log_leaks] == [planted]
    assert table_report.tables >= 10
    # The scan only peeks: the message is still there for the next scan.
    again, _ = scan_queues(clean_broker, {planted})
    assert len(again) == 1
    connection = pika.BlockingConnection(pika.URLParameters(clean_broker))
    connection.channel().queue_delete(PLANTED_QUEUE)
    connection.close()


def test_a_restored_proxy_serves_new_connections_on_the_same_port(database_url: str) -> None:
    with FaultProxy("127.0.0.1", 5432) as proxy:
        port = proxy.port
        for _ in range(3):
            proxy.cut()
            proxy.restore()
        assert proxy.port == port
        url = proxy.url_for(database_url)
        assert f":{port}/" in url
        assert _select_one(url) == 1
