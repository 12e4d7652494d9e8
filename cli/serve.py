"""Serving a WSGI app under gunicorn from the ``otp`` command.

Metrics under several worker processes: before gunicorn starts (and before anything
imports prometheus-client) ``core.platform.metrics_directory.prepare_metrics_directory`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory: a new temporary one, or the one the
operator set, emptied of the previous run's files. Every worker writes its samples there,
``/metrics`` sums them (``api.observability``), the ``child_exit`` hook marks a dead
worker's files, and the master removes a temporary directory on exit.

Logging: each process writes its lines from one background thread
(``core.platform.logging.configure_logging(..., background=True)``), so request threads never wait
on stderr; what is queued is written before a worker exits.

Graceful shutdown: on SIGTERM gunicorn stops accepting, lets in-flight requests finish
for up to :data:`GRACEFUL_TIMEOUT_SECONDS`, then exits 0. A container's stop grace period
must be longer (compose.yaml sets 35 s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from core.platform.logging import configure_logging
from core.platform.metrics_directory import (
    mark_process_dead,
    prepare_metrics_directory,
    remove_metrics_directory,
)
from core.platform.settings import LogFormat

# OTP and token requests take milliseconds (argon2 ~50 ms); 25 s covers a stuck database
# call reaching its own timeout and stays under the 30 s most orchestrators give by default.
GRACEFUL_TIMEOUT_SECONDS = 25


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with options from the command line and an app built in each worker."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.app_factory = app_factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.app_factory()


def mark_worker_dead(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit``: a dead worker's live gauges stop counting."""
    mark_process_dead(worker.pid)


def serve(
    app_factory: Callable[[], Any],
    *,
    service: str,
    bind: str,
    workers: int,
    threads: int,
    log_format: LogFormat,
) -> None:
    """Run gunicorn until SIGTERM/SIGINT; ``app_factory`` runs in each worker process."""
    directory, owned = prepare_metrics_directory(service)
    configure_logging(log_format, background=True)

    def on_exit(server: Any) -> None:
        if owned:
            remove_metrics_directory(directory)

    GunicornServer(
        app_factory,
        {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "timeout": 60,
            # gunicorn's access log prints the request line, query string included, which
            # can carry credentials; api.observability logs a safe line instead.
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "child_exit": mark_worker_dead,
            "on_exit": on_exit,
        },
    ).run()
