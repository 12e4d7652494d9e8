"""``otp worker``: Dramatiq worker processes for the OTP queues."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from core.broker import build_broker, check_broker
from core.db import check_database, make_engine
from core.settings import Settings
from workers.entry import ENTRY_POINT


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
        "--queues",
        *queues,
    ]


def run_worker(settings: Settings, *, queues: Sequence[str], processes: int, threads: int) -> int:
    """Check settings and services (one clear line when not), then become the dramatiq CLI."""
    settings.require("database_url", "broker_url", "secret_key")
    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        check_database(engine)
    finally:
        engine.dispose()
    check_broker(build_broker(settings), settings.broker_url)
    command = dramatiq_command(queues, processes=processes, threads=threads)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our own interpreter and a fixed argument list
    return 0  # not reached: execv replaces this process
