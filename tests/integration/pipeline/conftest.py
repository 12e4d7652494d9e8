"""A running worker pipeline for tests: real RabbitMQ vhost, PostgreSQL, worker threads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import dramatiq
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.delivery.service import RetryPolicy
from core.messaging.events import OtpRequested
from core.messaging.routes import ALL_QUEUES, ISSUE_OTPS, REQUESTS_QUEUE
from core.models import PENDING, Delivery, OneTimePassword
from core.platform.clock import Clock
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.webhook_receiver import WebhookReceiver
from workers.setup import setup_workers

# Small backoffs so retries happen within a test; the schedule's shape stays the same.
TEST_RETRY_POLICY = RetryPolicy(min_backoff_ms=20, max_backoff_ms=200)


def otp_requested(
    client_id: str,
    *,
    username: str | None = None,
    email: str | None = None,
    request_id: str | None = None,
) -> OtpRequested:
    return OtpRequested(
        request_id=request_id or uuid.uuid4().hex,
        client_id=client_id,
        username=username,
        email=email,
        requested_at=datetime.now(UTC),
    )


class Pipeline:
    """Publishes OtpRequested events and looks at what the workers made of them."""

    def __init__(self, runtime: Runtime, worker: dramatiq.Worker, console: StringIO) -> None:
        self.runtime = runtime
        self.broker = runtime.broker
        self.worker = worker
        self.console = console

    def publish(self, event: OtpRequested) -> OtpRequested:
        """What the api does: a message for actor ``issue_otps`` on ``otp.requests``."""
        self.broker.enqueue(
            dramatiq.Message(
                queue_name=REQUESTS_QUEUE,
                actor_name=ISSUE_OTPS.actor_name,
                args=(event.to_message(),),
                kwargs={},
                options={},
            )
        )
        return event

    def request(self, client_id: str, **fields: Any) -> OtpRequested:
        return self.publish(otp_requested(client_id, **fields))

    def settle(self) -> None:
        """Every queue (and its delay queue) empty, and every worker thread idle."""
        for queue in ALL_QUEUES:
            if queue in self.broker.get_declared_queues():
                self.broker.join(queue, min_successes=3, idle_time=50, timeout=60_000)
        self.worker.join()

    def deliveries(self, **where: Any) -> list[Delivery]:
        with Session(self.runtime.engine) as session:
            query = select(Delivery).filter_by(**where).order_by(Delivery.created_at)
            return list(session.scalars(query))

    def otps(self, **where: Any) -> list[OneTimePassword]:
        with Session(self.runtime.engine) as session:
            return list(session.scalars(select(OneTimePassword).filter_by(**where)))

    def wait_for_delivery(
        self, predicate: Callable[[Delivery], bool], timeout: float = 30.0
    ) -> Delivery:
        """The first delivery row that satisfies ``predicate`` (polled, never slept on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for delivery in self.deliveries():
                if predicate(delivery):
                    return delivery
            time.sleep(0.02)
        raise AssertionError(f"no delivery matched; rows: {self.describe()}")

    def wait_until_final(self, delivery_id: str, timeout: float = 30.0) -> Delivery:
        return self.wait_for_delivery(
            lambda row: row.id == delivery_id and row.status != PENDING, timeout
        )

    def describe(self) -> list[tuple[str, int, int | None, str | None]]:
        return [(d.status, d.attempts, d.last_status_code, d.last_error) for d in self.deliveries()]


PipelineFactory = Callable[..., Pipeline]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def start_pipeline(
    settings: Settings, clean_broker: str, committed_db: Engine
) -> Iterator[PipelineFactory]:
    """Start worker threads on the test vhost; ``clock`` and settings changes optional."""
    started: list[tuple[Runtime, dramatiq.Worker]] = []

    def start(clock: Clock | None = None, **setting_changes: Any) -> Pipeline:
        runtime = Runtime(
            settings.replace(**setting_changes) if setting_changes else settings,
            clock=clock or FrozenClock(datetime.now(UTC)),
            engine_override=committed_db,
        )
        console = StringIO()
        broker = setup_workers(runtime, retry_policy=TEST_RETRY_POLICY, console=console)
        worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
        worker.start()
        started.append((runtime, worker))
        return Pipeline(runtime, worker, console)

    yield start
    for runtime, worker in started:
        worker.stop(timeout=10_000)
        runtime.close()


@pytest.fixture
def committed_session(committed_db: Engine) -> Iterator[Session]:
    """A session whose commits other threads and processes see (tables emptied after)."""
    with Session(committed_db, expire_on_commit=False) as session:
        yield session
