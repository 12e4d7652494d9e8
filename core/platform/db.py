"""Engines and sessions, built from settings (never at import time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.platform.errors import ServiceUnavailable


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    prepared_statements: bool = True,
    pre_ping: bool = True,
) -> Engine:
    """An engine for PostgreSQL (psycopg 3, pooled) or SQLite (dev mode).

    ``prepared_statements=False`` (``OTP_DATABASE_PREPARED_STATEMENTS=off``) stops psycopg
    from preparing statements on the server (``prepare_threshold=None``): needed behind
    PgBouncer older than 1.21 in transaction mode, where the next transaction may run on
    a server connection that never saw the ``PREPARE``.

    ``pre_ping=False`` (``OTP_DATABASE_PRE_PING=off``) skips the ``SELECT 1`` round trip
    with which the pool checks a connection before each use. A connection the server
    dropped is then found by the statement that uses it: that request answers 503 (a
    delivery or fan-out is retried) and the pool replaces every connection older than it.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if not prepared_statements:
        connect_args["prepare_threshold"] = None
    # hide_parameters: a failed statement's error (and so its log line) never carries the
    # bound values, among them OTP nonces and password hashes.
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


def check_database(engine: Engine) -> None:
    """Raise :class:`ServiceUnavailable` with one line when the database does not answer."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        raise ServiceUnavailable(f"database unreachable: {_first_line(error.orig)}") from None


def check_database_at(url: str) -> None:
    """:func:`check_database` through a one-connection engine of its own, disposed at once:
    the command line's check before it migrates or becomes a worker."""
    engine = make_engine(url, pool_size=1)
    try:
        check_database(engine)
    finally:
        engine.dispose()


def _first_line(error: BaseException | None) -> str:
    message = str(error or "").strip().splitlines()
    return message[0] if message else "no answer"
