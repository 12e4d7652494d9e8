"""Alembic environment: the URL comes from ``otp migrate`` (or -x url=...), never a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from core.models import Base
from core.platform.db import make_engine

# Any constant works; it only has to be the same for every ``otp migrate`` process.
MIGRATION_LOCK_ID = 0x07_09_2026

config = context.config
url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("url")
if not url:
    raise SystemExit("migrations: no database URL (run them with `otp migrate`)")


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
