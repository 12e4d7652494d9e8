"""OTP_DATABASE_PRE_PING: what a pooled connection the server dropped costs, on and off.

docs/operations.md: with pre-ping on (the default) the pool checks each connection with a
round trip before lending it, so a dropped one is replaced unseen; off, the statement that
meets it fails once and the pool replaces it (and every older connection).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core.platform.db import make_engine
from core.platform.settings import load_settings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _drop_server_side(admin: Engine, pid: int) -> None:
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        connection.commit()


def _select_one(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT 1")).scalar_one())


def test_the_setting_is_read_from_the_environment() -> None:
    assert load_settings({}).database_pre_ping is True
    assert load_settings({"OTP_DATABASE_PRE_PING": "off"}).database_pre_ping is False


@pytest.mark.parametrize("pre_ping", [True, False], ids=["on", "off"])
def test_a_connection_dropped_by_the_server(
    engine: Engine, database_url: str, pre_ping: bool
) -> None:
    pooled = make_engine(database_url, pool_size=1, pre_ping=pre_ping)
    try:
        first = _backend_pid(pooled)
        _drop_server_side(engine, first)
        if pre_ping:
            assert _select_one(pooled) == 1  # replaced before use: nobody sees it
        else:
            with pytest.raises(OperationalError):
                _select_one(pooled)  # the one use that meets it fails
            assert _select_one(pooled) == 1  # and the pool has replaced it
        assert _backend_pid(pooled) != first
    finally:
        pooled.dispose()
