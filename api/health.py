"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, jsonify

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


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
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
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )
