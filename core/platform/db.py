"""Engines and sessions, built from settings (never at import time)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import InvalidatePoolError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from core.platform.errors import ServiceUnavailable
from core.platform.settings import PrePing

# Under "idle", a connection back in the pool for less than this is taken as alive.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN_AT = "otp_checked_in_at"


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    echo: bool = False,
    prepared_statements: bool = True,
    pre_ping: PrePing = "idle",
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> Engine:
    """An engine for PostgreSQL (psycopg 3, pooled) or SQLite (dev mode).

    ``prepared_statements=False`` (``OTP_DATABASE_PREPARED_STATEMENTS=off``) stops psycopg
    from preparing statements on the server (``prepare_threshold=None``): needed behind
    PgBouncer older than 1.21 in transaction mode, where the next transaction may run on
    a server connection that never saw the ``PREPARE``.

    ``pre_ping`` (``OTP_DATABASE_PRE_PING``) says when the pool checks a connection with a
    ``SELECT 1`` round trip before lending it, so that one the server dropped (a restart,
    a failover, an idle timeout) is replaced unseen: ``on`` before every use; ``idle``
    only when it sat in the pool for ``ping_after_idle`` seconds or more; ``off`` never.
    A dropped connection that is not checked is found by the statement that uses it: that
    request answers 503 (a delivery or fan-out is retried) and the pool replaces every
    connection older than it. Under load that happens once per outage whatever the
    setting, since requests fail while the server is away; ``idle`` keeps the check for
    the quiet periods in which nothing else would notice, and saves its round trip on
    busy connections (bench/README.md, "The hot path").
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
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping == "on",
        pool_recycle=1800,
        connect_args=connect_args,
    )
    if pre_ping == "idle":
        _ping_after_idle(engine, ping_after_idle)
    return engine


def _ping_after_idle(engine: Engine, seconds: float) -> None:
    """Check a connection on checkout when it sat in the pool ``seconds`` or more.

    The dialect's own ping; a failure makes the pool replace the connection (and every
    older one) and check out a fresh one, as ``pool_pre_ping`` does.
    """
    dialect = engine.dialect

    def checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < seconds:
            return  # just connected, or in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError() from error
            raise

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)


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
