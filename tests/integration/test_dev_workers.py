"""``otp dev``'s workers: threads on the in-process broker, SQLite, console delivery."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import migrations
from core.messaging.events import OtpRequested
from core.messaging.routes import ALL_QUEUES, ISSUE_OTPS, REQUESTS_QUEUE
from core.models import Delivery, OneTimePassword
from core.otp.codes import lookup_hash
from core.platform.runtime import Runtime
from tests.conftest import TEST_SECRET_KEY, base_settings
from tests.factories import (
    make_buyer,
    make_client,
    make_delivery_config,
    make_user,
    make_webhook_sender,
)
from workers.setup import start_dev_worker


@pytest.fixture
def dev_runtime(tmp_path: Path, jwt_private_key: str) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    migrations.upgrade(url)
    runtime = Runtime(
        base_settings(jwt_private_key, database_url=url, broker_url=None, dev_mode=True)
    )
    yield runtime
    runtime.close()


def test_dev_mode_workers_print_the_message_of_a_console_target(
    dev_runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    with dev_runtime.sessions.begin() as session:
        client = make_client(session, allow_any_buyer=True)
        config = make_delivery_config(session, targets={"Console": {}})
        make_webhook_sender(session, url=None, shared_key=None, delivery_config_id=config.id)
        user = make_user(session, buyer=make_buyer(session), username="dev-user")
        client_id, user_id = client.id, user.id
    worker = start_dev_worker(dev_runtime, threads=2)
    broker = dev_runtime.broker
    try:
        event = OtpRequested(
            request_id="dev-1",
            client_id=client_id,
            username="DEV-USER",
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
        for queue in ALL_QUEUES:
            if queue in broker.get_declared_queues():
                broker.join(queue, timeout=30_000)
        worker.join()
    finally:
        worker.stop(timeout=5000)

    printed = capsys.readouterr().out
    assert "Subject: Your one-time password for Storefront" in printed
    match = re.search(r"Your one-time password is: (\d{8})", printed)
    assert match is not None, printed
    with Session(dev_runtime.engine) as session:
        otp = session.scalars(select(OneTimePassword)).one()
        delivery = session.scalars(select(Delivery)).one()
    expected = lookup_hash(
        TEST_SECRET_KEY.encode(), user_id=user_id, client_id=client_id, code=match.group(1)
    )
    assert otp.lookup_hash == expected
    assert (delivery.channel, delivery.status, delivery.attempts) == ("console", "delivered", 1)
