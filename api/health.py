"""Liveness and readiness probes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify

from api.openapi import Operation, document
from api.runtime import current_runtime
from core.messaging.broker import check_broker
from core.platform.db import check_database
from core.platform.errors import ServiceUnavailable

health = Blueprint("health", __name__)
document(
    health,
    Operation(
        "/healthz", "get", "Liveness: the process answers", "Operations", errors=(), secured=False
    ),
    Operation(
        "/readyz",
        "get",
        "Readiness: database and broker reachable (503 otherwise)",
        "Operations",
        responses={200: None, 503: None},
        errors=(),
        secured=False,
    ),
)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


# A probe's answer is reused for this long: /readyz is public, and each probe opens a
# RabbitMQ connection, so a caller polling it fast must not cost a connection per call.
READINESS_CACHE_SECONDS = 1.5


@dataclass
class _CachedChecks:
    checks: dict[str, str] | None = None
    taken_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    runtime = current_runtime()
    cached: _CachedChecks = current_app.extensions.setdefault("otp.readiness", _CachedChecks())
    with cached.lock:  # concurrent callers wait for one probe instead of each making one
        now = runtime.clock.now()
        fresh = cached.taken_at is not None and (
            timedelta(0) <= now - cached.taken_at < timedelta(seconds=READINESS_CACHE_SECONDS)
        )
        if not fresh or cached.checks is None:
            cached.checks, cached.taken_at = _probe(), now
        checks = dict(cached.checks)
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )


def _probe() -> dict[str, str]:
    runtime = current_runtime()
    checks: dict[str, str] = {}
    probes: tuple[tuple[str, Callable[[], None]], ...] = (
        ("database", lambda: check_database(runtime.engine)),
        ("broker", lambda: check_broker(runtime.broker, runtime.settings.broker_url)),
    )
    for name, check in probes:
        try:
            check()
            checks[name] = "ok"
        except ServiceUnavailable as error:
            checks[name] = str(error)
    return checks
