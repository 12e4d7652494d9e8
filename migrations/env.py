"""Alembic environment: the URL comes from ``otp migrate``, ``-x url=...`` or OTP_DATABASE_URL.

``otp migrate`` passes it in the config's attributes; the ``alembic`` command line, run from
the repository root (``[tool.alembic]`` in pyproject.toml), takes ``-x url=...`` or else
OTP_DATABASE_URL, read like every other setting. Never a file: URLs carry passwords.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from core.models import Base
from core.platform.db import make_engine
from core.platform.errors import SettingsError
from core.platform.settings import load_settings

# Any constant works; it only has to be the same for every ``otp migrate`` process.
MIGRATION_LOCK_ID = 0x07_09_2026

config = context.config


def database_url() -> str:
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get(
        "url"
    )
    if url:
        return str(url)
    try:
        url = load_settings().database_url
    except SettingsError as error:
        raise SystemExit(f"migrations: {error}") from None
    if not url:
        raise SystemExit("migrations: no database URL (set OTP_DATABASE_URL, or run `otp migrate`)")
    return url


url = database_url()


def run_migrations_online() -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                compare_type=True,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK_ID}
                    )
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations_online()
