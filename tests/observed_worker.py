"""A stand-in for ``otp worker`` in tests (the real one lands with the workers branch).

It does what ``otp worker`` must do for metrics: :func:`prepare_worker_metrics`, then exec
the dramatiq CLI on a boot function that installs the worker metrics on its broker.
The one actor logs a line and counts a delivery, so a test can see both in the output.
"""

from __future__ import annotations

import logging
import os
import sys

import dramatiq

from core.messaging.broker import build_broker
from core.platform.logging import configure_logging
from core.platform.settings import load_settings
from workers.observability import install_worker_metrics, prepare_worker_metrics

QUEUE = "otp.test.observed"
ACTOR = "observed_delivery"


def boot_worker_process() -> None:
    # Imported only in the worker process: PROMETHEUS_MULTIPROC_DIR must exist first.
    from core.platform.metrics import record_delivery

    settings = load_settings()
    configure_logging(settings.log_format)
    broker = build_broker(settings)
    install_worker_metrics(broker, settings)
    dramatiq.set_broker(broker)

    @dramatiq.actor(broker=broker, queue_name=QUEUE, actor_name=ACTOR, max_retries=0)
    def observed_delivery(channel: str) -> None:
        logging.getLogger("otp.test.worker").info("delivered on %s", channel)
        record_delivery(channel, "delivered", 0.3)


def main() -> None:
    prepare_worker_metrics(load_settings())
    command = [
        sys.executable,
        "-m",
        "dramatiq",
        "tests.observed_worker:boot_worker_process",
        "--processes",
        "2",
        "--threads",
        "1",
        "--queues",
        QUEUE,
        "--worker-shutdown-timeout",
        "10000",
    ]
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
