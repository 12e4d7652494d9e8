"""The token handler's app factory: a deployable of its own (``otp token``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from api.errors import register_token_error_handlers
from api.observability import install_observability
from api.runtime import attach_runtime
from api.token.routes import attach_token_services, token_routes
from core.auth.grants import TokenGrants
from core.auth.tokens import TokenKeys
from core.identity.passwords import PasswordHasher
from core.platform.runtime import Runtime
from core.platform.settings import Settings, load_settings

MAX_BODY_BYTES = 16 * 1024


def create_token_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the token app; the signing key is checked now, the database used on demand."""
    if runtime is None:
        runtime = Runtime(settings or load_settings())
    settings = runtime.settings
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    attach_runtime(app, runtime)
    keys = TokenKeys(settings)

    def database() -> Engine:
        return runtime.engine

    grants = TokenGrants(
        settings,
        database=database,
        keys=keys,
        hasher=PasswordHasher(settings.password_hash),
        clock=runtime.clock,
    )
    attach_token_services(app, grants, keys)
    register_token_error_handlers(app)
    install_observability(app, "token")
    app.register_blueprint(token_routes)
    if settings.trusted_proxies:
        # The audit trail records the caller's address, as told by the trusted proxies.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies
        )
    return app
