"""The api app factory: OTP requests, admin resources, /v1/me, probes."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api.admin import register_admin
from api.errors import register_error_handlers
from api.health import health
from api.input_guard import refuse_hostile_input
from api.me import me
from api.observability import install_observability
from api.openapi import openapi, registry_of
from api.otp_requests import otp_requests
from api.runtime import attach_runtime
from api.token.schemas import token_operations
from core.platform.runtime import Runtime
from core.platform.settings import Settings, load_settings

MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the api app; nothing connects until a request needs it."""
    if runtime is None:
        runtime = Runtime(settings or load_settings())
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    attach_runtime(app, runtime)
    register_error_handlers(app)
    install_observability(app, "api")
    # After the correlation id is bound: a refused request is still logged and counted.
    app.before_request(refuse_hostile_input)
    app.register_blueprint(health)
    app.register_blueprint(otp_requests)
    app.register_blueprint(openapi)
    app.register_blueprint(me)
    register_admin(app, runtime)
    registry_of(app).add(*token_operations())
    if runtime.settings.trusted_proxies:
        # request.remote_addr becomes the address that many hops from the right of
        # X-Forwarded-For; without trusted proxies the header is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=runtime.settings.trusted_proxies)  # type: ignore[method-assign]
    return app
