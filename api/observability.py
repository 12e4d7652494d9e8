"""Correlation ids, access log lines and Prometheus metrics for any Flask app.

``install_observability(app, "api")`` (or ``"token"``) makes the app:

- make a fresh correlation id for every request and bind it (every log line and every
  message published carries it; an accepted OTP request's ``request_id`` is this id). It
  is never taken from the caller: a reused or chosen id would collide in the fan-out's
  per-request deduplication. The id the caller sent in ``X-Request-Id`` or
  ``X-Correlation-Id`` (1 to 64 safe characters; the edge sets nginx's ``$request_id``)
  is bound as ``caller_request_id``, logged on each of the request's lines and echoed as
  ``X-Request-Id``. The generated id is not echoed: answers to identical requests stay
  byte-identical (the OTP request's no-enumeration promise covers every header but
  ``Date``);
- log one access line per request: method, route template, status, duration in ms.
  Never the body, the query string or form fields: they carry passwords and OTPs;
- count requests by route template, method and status and observe their latency;
- serve ``GET /metrics`` (Prometheus text format). With ``PROMETHEUS_MULTIPROC_DIR`` set
  (``otp api`` / ``otp token`` set it for gunicorn) the exposition sums every worker
  process; otherwise it is this process's registry.
"""

from __future__ import annotations

import logging
import os
import time
from functools import lru_cache

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

# Imported for its side effect: the domain metrics are registered, so /metrics lists them
# (with their HELP text) from the first scrape, before any handler has incremented them.
import core.platform.metrics  # noqa: F401
from api.openapi import Operation, registry_of
from core.platform.correlation import (
    bind_caller_request_id,
    bind_correlation_id,
    is_valid_correlation_id,
    new_correlation_id,
    unbind_caller_request_id,
    unbind_correlation_id,
)

REQUEST_ID_HEADERS = ("X-Request-Id", "X-Correlation-Id")
RESPONSE_ID_HEADER = "X-Request-Id"
UNMATCHED_ROUTE = "<unmatched>"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes and scrapes arrive every few seconds; at INFO they would drown the real traffic.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = logging.getLogger("otp.access")

HTTP_REQUESTS = Counter(
    "otp_http_requests",
    "HTTP requests by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "otp_http_request_duration_seconds",
    "HTTP request latency by service, route template and method.",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def install_observability(app: Flask, service_name: str) -> None:
    """Correlation id, access log, request metrics and ``/metrics`` on ``app``."""

    @app.before_request
    def bind_request_id() -> None:
        g.otp_started = time.perf_counter()
        g.otp_incoming_request_id = _incoming_request_id()
        g.otp_caller_request_id_token = bind_caller_request_id(g.otp_incoming_request_id)
        g.otp_request_id_token = bind_correlation_id(new_correlation_id())

    @app.after_request
    def record_request(response: Response) -> Response:
        started = g.get("otp_started")
        if started is None:  # before_request never ran (another hook failed first)
            return response
        seconds = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        method = request.method if request.method in _KNOWN_METHODS else "OTHER"
        _requests_series(service_name, route, method, response.status_code).inc()
        _latency_series(service_name, route, method).observe(seconds)
        access_log.log(
            logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
            "%s %s %s",
            method,
            route,
            response.status_code,
            extra={
                "service": service_name,
                "method": method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
            },
        )
        if g.otp_incoming_request_id:
            response.headers[RESPONSE_ID_HEADER] = g.otp_incoming_request_id
        return response

    @app.teardown_request
    def unbind_request_id(error: BaseException | None) -> None:
        token = g.pop("otp_request_id_token", None)
        if token is not None:
            unbind_correlation_id(token)
        caller_token = g.pop("otp_caller_request_id_token", None)
        if caller_token is not None:
            unbind_caller_request_id(caller_token)

    app.add_url_rule("/metrics", "metrics", metrics_exposition, methods=["GET"])
    registry_of(app).add(
        Operation(
            path="/metrics",
            method="get",
            summary="Prometheus metrics (text exposition format)",
            tag="Meta",
            errors=(),
            secured=False,
        )
    )


# The labelled series, looked up once per label set (route templates, methods and
# statuses are each a small closed set) rather than on every request.
@lru_cache(maxsize=1024)
def _requests_series(service: str, route: str, method: str, status: int) -> Counter:
    return HTTP_REQUESTS.labels(service, route, method, str(status))


@lru_cache(maxsize=256)
def _latency_series(service: str, route: str, method: str) -> Histogram:
    return HTTP_LATENCY.labels(service, route, method)


def _incoming_request_id() -> str | None:
    for header in REQUEST_ID_HEADERS:
        value = request.headers.get(header)
        if value is not None and is_valid_correlation_id(value):
            return value
    return None


def metrics_exposition() -> Response:
    """Every metric of this deployable, summed over its processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        # prometheus-client leaves this constructor unannotated.
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
