"""``otp migrate`` and ``otp bootstrap``."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from core.identity.bootstrap import bootstrap_admin
from core.identity.passwords import PasswordHasher
from core.platform.db import (
    check_database,
    check_database_at,
    make_engine,
    make_session_factory,
    transaction,
)
from core.platform.errors import ServiceUnavailable
from core.platform.settings import Settings


def migrate(settings: Settings) -> None:
    import migrations

    settings.require("database_url")
    assert settings.database_url is not None
    check_database_at(settings.database_url)
    try:
        migrations.upgrade(settings.database_url, secret_keys=settings.secrets_at_rest_keys)
    except OperationalError as error:
        raise ServiceUnavailable(f"database error during migration: {error.orig}") from None


def bootstrap(settings: Settings, *, username: str, password: str, email: str | None) -> str:
    settings.require("database_url")
    assert settings.database_url is not None
    engine = make_engine(
        settings.database_url,
        pool_size=1,
        prepared_statements=settings.database_prepared_statements,
    )
    try:
        check_database(engine)
        with transaction(make_session_factory(engine)) as session:
            return bootstrap_admin(
                session,
                PasswordHasher(settings.password_hash),
                username=username,
                password=password,
                email=email,
            )
    finally:
        engine.dispose()
