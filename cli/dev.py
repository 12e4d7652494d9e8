"""``otp dev``: the whole service in one process on SQLite and an in-process broker.

For a first look on a machine with nothing installed; never for production. Keys and the
database live in a dev folder (``OTP_DEV_DIR``, default ``./.otp-dev``), generated on first
start and reused after.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.platform.logging import configure_logging
from core.platform.runtime import Runtime
from core.platform.settings import Settings, load_settings


def dev_settings(folder: Path) -> Settings:
    """Environment settings, with the dev folder's database and keys filling the gaps."""
    folder.mkdir(parents=True, exist_ok=True)
    secret_file = folder / "secret-key"
    if not secret_file.exists():
        _write_private(secret_file, secrets.token_urlsafe(48))
    jwt_file = folder / "jwt-private-key.pem"
    if not jwt_file.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(jwt_file, pem.decode())
    env = dict(os.environ)
    env.setdefault("OTP_DATABASE_URL", f"sqlite:///{folder / 'otp-dev.db'}")
    env.setdefault("OTP_SECRET_KEY", secret_file.read_text().strip())
    env.setdefault("OTP_JWT_PRIVATE_KEY", f"@{jwt_file}")
    env.setdefault("OTP_JWT_ALGORITHM", "ES256")
    env.setdefault("OTP_LOG_FORMAT", "text")
    env.setdefault("OTP_IP_RATE_LIMIT", "0")
    # Dev mode delivers to receivers on this machine.
    env.setdefault("OTP_BLOCKED_TARGET_NETWORKS", "none")
    return load_settings(env).replace(dev_mode=True)


def _write_private(path: Path, content: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)


TOKEN_PATH_PREFIXES = ("/oauth/", "/.well-known/")


def build_dev_wsgi(runtime: Runtime) -> Any:
    """One WSGI app: token routes to the token handler, everything else to the api."""
    from api import create_app
    from api.token import create_token_app

    api_app = create_app(runtime=runtime)
    token_app = create_token_app(runtime=runtime)

    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        app = token_app if path.startswith(TOKEN_PATH_PREFIXES) else api_app
        return app(environ, start_response)

    return dispatch


def run_dev(*, port: int, demo: bool = False) -> int:
    from werkzeug.serving import run_simple

    import migrations
    from workers.setup import start_dev_worker

    folder = Path(os.environ.get("OTP_DEV_DIR", ".otp-dev")).resolve()
    settings = dev_settings(folder)
    configure_logging(settings.log_format)
    assert settings.database_url is not None
    migrations.upgrade(settings.database_url)
    runtime = Runtime(settings)
    if demo:
        from cli.demo import print_demo_instructions, seed_demo
        from core.identity.passwords import PasswordHasher

        seed_demo(runtime.sessions, PasswordHasher(settings.password_hash))
    # The workers run as threads on the same in-process broker the api publishes to.
    worker = start_dev_worker(runtime)
    print(f"otp dev: serving on http://127.0.0.1:{port} (data in {folder})", file=sys.stderr)
    if demo:
        # Standard output, where the console sender prints the codes the commands need.
        print_demo_instructions(sys.stdout, f"http://127.0.0.1:{port}")
    try:
        run_simple("127.0.0.1", port, build_dev_wsgi(runtime), threaded=True, use_reloader=False)
    finally:
        worker.stop(timeout=5000)
        runtime.close()
    return 0
