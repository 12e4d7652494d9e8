"""Entry point for the dramatiq CLI: ``python -m dramatiq workers.entry:boot_worker_process``.

Dramatiq calls :func:`boot_worker_process` in each worker process it starts; importing
this module does nothing.
"""

from __future__ import annotations

from core.platform.logging import configure_logging
from core.platform.runtime import Runtime
from core.platform.settings import load_settings
from workers.setup import setup_workers

ENTRY_POINT = "workers.entry:boot_worker_process"


def boot_worker_process() -> None:
    """Settings from the environment, logging, broker and actors for this process."""
    settings = load_settings()
    configure_logging(settings.log_format)
    setup_workers(Runtime(settings))
