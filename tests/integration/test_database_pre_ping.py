"""OTP_DATABASE_PRE_PING: what a pooled connection the server dropped costs, in each mode.

docs/operations.md: ``on`` checks every connection with a round trip before lending it, so
a dropped one is replaced unseen; ``idle`` (the default) checks only connections that sat
in the pool for a while; ``off`` never checks, and the statement that meets a dropped
connection fails once before the pool replaces it (and every older one).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core.platform.db import make_engine
from core.platform.errors import SettingsError
from core.platform.settings import PrePing, load_settings

IDLE_SECONDS = 0.3


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
    assert load_settings({}).database_pre_ping == "idle"
    for mode in ("idle", "on", "off"):
        assert load_settings({"OTP_DATABASE_PRE_PING": mode}).database_pre_ping == mode
    with pytest.raises(SettingsError, match="OTP_DATABASE_PRE_PING"):
        load_settings({"OTP_DATABASE_PRE_PING": "yes"})


@pytest.mark.parametrize(
    ("mode", "idle_for", "replaced_unseen"),
    [
        ("on", 0.0, True),
        ("idle", IDLE_SECONDS + 0.2, True),  # sat in the pool: checked before use
        ("idle", 0.0, False),  # in use a moment ago: not checked
        ("off", IDLE_SECONDS + 0.2, False),
    ],
    ids=["on", "idle-after-a-pause", "idle-while-busy", "off"],
)
def test_a_connection_dropped_by_the_server(
    engine: Engine,
    database_url: str,
    mode: PrePing,
    idle_for: float,
    replaced_unseen: bool,
) -> None:
    pooled = make_engine(database_url, pool_size=1, pre_ping=mode, ping_after_idle=IDLE_SECONDS)
    try:
        first = _backend_pid(pooled)
        _drop_server_side(engine, first)
        time.sleep(idle_for)
        if replaced_unseen:
            assert _select_one(pooled) == 1
        else:
            with pytest.raises(OperationalError):
                _select_one(pooled)  # the one use that meets it fails
            assert _select_one(pooled) == 1  # and the pool has replaced it
        assert _backend_pid(pooled) != first
    finally:
        pooled.dispose()
