"""The directory where processes of one deployable share their Prometheus samples.

prometheus-client decides at import time whether samples live in process memory or in
files under ``PROMETHEUS_MULTIPROC_DIR``, so the variable must be set before anything
imports it: this module therefore imports nothing of prometheus-client at module level.
Used by ``otp api`` / ``otp token`` (gunicorn workers) and ``otp worker`` (Dramatiq
worker processes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client's files: counter_<pid>.db, histogram_<pid>.db, gauge_livesum_<pid>.db ...
_SAMPLE_FILES = "*_*.db"


def prepare_metrics_directory(service: str) -> tuple[Path, bool]:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory for this run.

    The operator's directory when set (last run's sample files deleted: counters would
    otherwise resume from stale values), else a new temporary one. Returns the directory
    and whether it is ours to remove on exit.
    """
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(_SAMPLE_FILES):
            stale.unlink()
        return directory, False
    directory = Path(tempfile.mkdtemp(prefix=f"otp-{service}-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory, True


def remove_metrics_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """A stopped process's live gauges stop counting (its counters keep their totals)."""
    # Imported here, never at module level: see the module docstring.
    from prometheus_client import multiprocess  # noqa: PLC0415

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
