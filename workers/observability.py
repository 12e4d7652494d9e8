"""Metrics of ``otp worker``: Dramatiq's message metrics and ours, on one port.

How it fits together (dramatiq 2.x):

1. ``otp worker`` calls :func:`prepare_worker_metrics` before it starts the dramatiq CLI.
   It points ``PROMETHEUS_MULTIPROC_DIR`` (and dramatiq's own ``dramatiq_prom_db``) at a
   fresh directory, so every worker process, created afterwards, writes its samples there:
   ours (``core.platform.metrics``) and Dramatiq's alike.
2. Each worker process calls :func:`install_worker_metrics` on its broker. That adds
   :class:`WorkerMetrics`: Dramatiq's ``Prometheus`` middleware (no longer a default
   middleware in 2.x) with its exposition replaced by :func:`serve_worker_metrics`.
3. The dramatiq CLI runs :func:`serve_worker_metrics` once, in a forked process of its own,
   on ``OTP_WORKER_METRICS_PORT``: it sums the directory, so one scrape shows every process's
   ``dramatiq_*`` and ``otp_*`` series.

Dramatiq's stock exposition would listen on ``dramatiq_prom_port`` (default 9191, our
default port too) with a directory that is never emptied between runs; using both would
collide on the port. ``OTP_WORKER_METRICS_PORT=0`` turns all of this off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import dramatiq
from dramatiq.middleware.prometheus import Prometheus
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from core.platform.metrics_directory import (
    MULTIPROC_ENV,
    mark_process_dead,
    prepare_metrics_directory,
)
from core.platform.settings import Settings, load_settings

# Dramatiq's Prometheus middleware reads its directory from this variable at import time.
DRAMATIQ_DB_ENV = "dramatiq_prom_db"
# The scrape must reach the port from outside the container (compose, Prometheus).
METRICS_BIND_ADDRESS = "0.0.0.0"  # noqa: S104 - metrics are meant to be scraped from the network

logger = logging.getLogger("otp.worker.metrics")


def prepare_worker_metrics(settings: Settings) -> Path | None:
    """In ``otp worker``, before Dramatiq starts: a fresh shared metrics directory."""
    if settings.worker_metrics_port == 0:
        return None
    directory, _ = prepare_metrics_directory("worker")
    os.environ[DRAMATIQ_DB_ENV] = str(directory)
    return directory


def install_worker_metrics(broker: dramatiq.Broker, settings: Settings) -> None:
    """Add :class:`WorkerMetrics` in a worker process that ``otp worker`` prepared.

    Elsewhere (``otp dev``, tests running a Worker in-process) it does nothing: the
    middleware needs the prepared directory and the dramatiq CLI's process-boot signal.
    """
    if settings.worker_metrics_port != 0 and os.environ.get(MULTIPROC_ENV):
        broker.add_middleware(WorkerMetrics())


class WorkerMetrics(Prometheus):
    """Dramatiq's message metrics, exposed by :func:`serve_worker_metrics`."""

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve_worker_metrics]

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        mark_process_dead(os.getpid())


def serve_worker_metrics() -> int:
    """Serve the summed metrics directory on ``OTP_WORKER_METRICS_PORT`` until stopped.

    Runs as a dramatiq fork process (``--fork-function``-style, via ``WorkerMetrics.forks``).
    """
    port = load_settings().worker_metrics_port
    registry = CollectorRegistry()
    # prometheus-client leaves this constructor unannotated.
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    server, thread = start_http_server(port, addr=METRICS_BIND_ADDRESS, registry=registry)
    logger.info("worker metrics on port %s", port)
    try:
        thread.join()
    finally:
        server.shutdown()
    return 0
