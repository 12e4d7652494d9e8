"""The real ``otp worker`` process: at-least-once delivery across a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import dramatiq
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.messaging.broker import build_broker
from core.messaging.events import OtpRequested
from core.messaging.routes import ISSUE_OTPS, REQUESTS_QUEUE
from core.models import Delivery
from core.platform.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_buyer, make_client, make_user, make_webhook_sender
from tests.processes import free_port, otp_command, started
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def worker_env(database_url: str, clean_broker: str) -> dict[str, str]:
    return {
        **os.environ,
        "OTP_DATABASE_URL": database_url,
        "OTP_BROKER_URL": clean_broker,
        "OTP_SECRET_KEY": TEST_SECRET_KEY,
        "OTP_LOG_FORMAT": "text",
        "OTP_BLOCKED_TARGET_NETWORKS": "none",
        "OTP_WORKER_METRICS_PORT": str(free_port()),  # not 9191: other runs may hold it
    }


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _publish_request(settings: Settings, client_id: str, username: str) -> None:
    broker = build_broker(settings)
    try:
        event = OtpRequested(
            request_id=uuid.uuid4().hex,
            client_id=client_id,
            username=username,
            requested_at=datetime.now(UTC),
        )
        broker.enqueue(
            dramatiq.Message(
                queue_name=REQUESTS_QUEUE,
                actor_name=ISSUE_OTPS.actor_name,
                args=(event.to_message(),),
                kwargs={},
                options={},
            )
        )
    finally:
        broker.close()


def _wait_for_status(engine: Engine, status: str, timeout: float = 60.0) -> Delivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as session:
            row = session.scalars(select(Delivery).where(Delivery.status == status)).first()
            if row is not None:
                return row
        time.sleep(0.1)
    raise AssertionError(f"no delivery reached {status}")


def test_a_worker_killed_mid_delivery_leaves_the_message_to_be_redelivered(
    committed_db: Engine,
    settings: Settings,
    worker_env: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    with Session(committed_db) as session:
        client = make_client(session, allow_any_buyer=True)
        make_webhook_sender(session, url=receiver.url)
        user = make_user(session, buyer=make_buyer(session))
        client_id, username = client.id, user.username
        session.commit()
    receiver.hold_next_request()
    command = otp_command("worker", "--processes", "1", "--threads", "2")
    with tempfile.NamedTemporaryFile(prefix="otp-worker-", suffix=".log") as sink:
        # A session of its own, so one SIGKILL takes the dramatiq parent and its children.
        doomed = subprocess.Popen(
            command, env=worker_env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        _publish_request(settings, client_id, username)
        (first,) = receiver.wait_for(1, timeout=90)  # the worker is now inside the POST
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
        receiver.release()
    assert _status_of_only_delivery(committed_db) == ("pending", 0)

    with started(command, env=worker_env) as survivor:
        webhooks = receiver.wait_for(2, timeout=90)
        delivered = _wait_for_status(committed_db, "delivered")
        assert survivor.poll() is None, survivor.output()

    assert webhooks[1].headers["webhook-id"] == first.headers["webhook-id"] == delivered.id
    assert webhooks[1].code == first.code
    assert delivered.attempts == 1  # the killed attempt was never recorded


def _status_of_only_delivery(engine: Engine) -> tuple[str, int]:
    with Session(engine) as session:
        (row,) = session.scalars(select(Delivery)).all()
        return row.status, row.attempts


def test_worker_with_an_unreachable_broker_says_so_in_one_line(
    worker_env: dict[str, str],
) -> None:
    result = subprocess.run(
        otp_command("worker"),
        env={**worker_env, "OTP_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otp worker: broker unreachable")


def test_sigterm_mid_delivery_lets_the_delivery_finish_and_the_worker_exits_zero(
    committed_db: Engine,
    settings: Settings,
    worker_env: dict[str, str],
    receiver: WebhookReceiver,
) -> None:
    with Session(committed_db) as session:
        client = make_client(session, allow_any_buyer=True)
        make_webhook_sender(session, url=receiver.url)
        user = make_user(session, buyer=make_buyer(session))
        client_id, username = client.id, user.username
        session.commit()
    env = {
        **worker_env,
        # The held request must outlast the stop, not the webhook timeout.
        "OTP_WEBHOOK_TIMEOUT": "120",
    }
    receiver.hold_next_request()
    command = otp_command("worker", "--processes", "1", "--threads", "2")
    with started(command, env=env, stop_timeout=60) as worker:
        _publish_request(settings, client_id, username)
        receiver.wait_for(1, timeout=90)  # the worker is now inside the POST
        worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while "Shutting down" not in worker.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Shutting down" in worker.output()
        assert worker.poll() is None  # stopping, yet waiting for the delivery in flight
        receiver.release()
        assert worker.wait(timeout=60) == 0, worker.output()
    assert _status_of_only_delivery(committed_db) == ("delivered", 1)
    assert len(receiver.received) == 1
