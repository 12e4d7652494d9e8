"""``otp migrate`` and ``otp bootstrap``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
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


@contextmanager
def command_engine(settings: Settings) -> Iterator[Engine]:
    """A one-connection engine for one CLI command, checked to answer, disposed after."""
    settings.require("database_url")
    assert settings.database_url is not None
    engine = make_engine(
        settings.database_url,
        pool_size=1,
        prepared_statements=settings.database_prepared_statements,
    )
    try:
        check_database(engine)
        yield engine
    finally:
        engine.dispose()


def bootstrap(settings: Settings, *, username: str, password: str, email: str | None) -> str:
    with (
        command_engine(settings) as engine,
        transaction(make_session_factory(engine)) as session,
    ):
        return bootstrap_admin(
            session,
            PasswordHasher(settings.password_hash),
            username=username,
            password=password,
            email=email,
        )
