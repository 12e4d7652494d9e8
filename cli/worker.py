"""``otp worker``: Dramatiq worker processes for the OTP queues.

Graceful shutdown: on SIGTERM the dramatiq CLI stops consuming, lets the messages in
flight finish for up to :data:`SHUTDOWN_TIMEOUT_MS`, requeues unfinished ones (their
unacknowledged messages go back to RabbitMQ) and exits 0. A container's stop grace period
must be longer (compose.yaml sets 40 s).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from core.messaging.broker import build_broker, check_broker
from core.platform.db import check_database_at
from core.platform.settings import Settings
from workers.entry import ENTRY_POINT
from workers.observability import prepare_worker_metrics

# A webhook attempt is bounded by OTP_WEBHOOK_TIMEOUT (5 s) and an SMTP one by 30 s per
# operation; 30 s lets nearly every attempt in flight finish before the worker exits.
SHUTDOWN_TIMEOUT_MS = 30_000


def dramatiq_command(queues: Sequence[str], *, processes: int, threads: int) -> list[str]:
    """The dramatiq CLI invocation this command becomes."""
    return [
        sys.executable,
        "-m",
        "dramatiq",
        ENTRY_POINT,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--worker-shutdown-timeout",
        str(SHUTDOWN_TIMEOUT_MS),
        "--queues",
        *queues,
    ]


def run_worker(settings: Settings, *, queues: Sequence[str], processes: int, threads: int) -> int:
    """Check settings and services (one clear line when not), then become the dramatiq CLI."""
    settings.require("database_url", "broker_url", "secret_key")
    assert settings.database_url is not None
    check_database_at(settings.database_url)
    check_broker(build_broker(settings), settings.broker_url)
    # Before the exec: every worker process inherits the fresh metrics directory.
    prepare_worker_metrics(settings)
    command = dramatiq_command(queues, processes=processes, threads=threads)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our own interpreter and a fixed argument list
    return 0  # not reached: execv replaces this process
