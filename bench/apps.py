"""Bench-only servers: the real app factories plus no-op routes, never part of the product.

Each ceiling is served exactly as ``otp api`` / ``otp token`` serve the product — the same
``cli.serve.serve`` (gunicorn, same worker class, workers, threads, timeouts) and the same
app factory, with one extra route that does as little as an endpoint can:

- ``POST /bench/noop`` on the api: parse the JSON body, answer ``204``.
- ``POST /bench/pipeline`` on the api: parse the JSON body, publish one persistent,
  confirmed message to the two-hop no-op pipeline (:mod:`bench.pipeline`) the way the
  product publishes (one pipelined confirmed connection per process), answer ``204``.
- ``POST /bench/noop-form`` on the token server: parse the form, answer a small JSON.

Run as ``python -m bench.apps api|token --bind H:P --workers N --threads T``.
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, jsonify, request

from cli.serve import serve
from core.platform.settings import Settings, load_settings


def api_with_noop(settings: Settings) -> Flask:
    from api import create_app
    from api.runtime import current_runtime
    from bench.pipeline import pipeline_message, publish_confirmed

    app = create_app(settings)

    @app.post("/bench/noop")
    def bench_noop() -> tuple[str, int]:
        request.get_json(force=True)
        return "", 204

    @app.post("/bench/pipeline")
    def bench_pipeline() -> tuple[str, int]:
        body = request.get_json(force=True)
        publish_confirmed(current_runtime().broker, pipeline_message(str(body.get("Username", ""))))
        return "", 204

    return app


def token_with_noop(settings: Settings) -> Flask:
    from api.token import create_token_app

    app = create_token_app(settings)

    @app.post("/bench/noop-form")
    def bench_noop_form() -> Any:
        form = request.form
        return jsonify(ok=bool(form.get("grant_type")))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="bench-only servers with no-op routes")
    parser.add_argument("app", choices=("api", "token"))
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    settings = load_settings()
    build = api_with_noop if args.app == "api" else token_with_noop
    serve(
        lambda: build(settings),
        service=f"bench-{args.app}",
        bind=args.bind,
        workers=args.workers,
        threads=args.threads,
        log_format=settings.log_format,
    )


if __name__ == "__main__":
    main()
