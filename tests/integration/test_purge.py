"""``otp purge`` on real PostgreSQL and on the dev mode's SQLite, at explicit instants."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import migrations
from core.models import DELIVERED, EXPIRED, PENDING, AuthEvent, Delivery, OneTimePassword
from core.otp.purge import PurgeReport, purge_expired
from core.platform.db import make_engine
from tests.factories import (
    make_auth_event,
    make_client,
    make_delivery,
    make_otp_row,
    make_user,
)
from tests.processes import otp_command

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RETENTION = 30 * 86400
THROTTLE_WINDOW = 900
TICK = timedelta(microseconds=1)


@pytest.fixture(params=["postgresql", "sqlite"])
def purge_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """PostgreSQL (committed, emptied afterwards) or a migrated SQLite file."""
    if request.param == "postgresql":
        engine: Engine = request.getfixturevalue("committed_db")
        yield engine
        return
    url = f"sqlite:///{tmp_path / 'purge.db'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@dataclass
class Rows:
    otp_ids: dict[str, str]
    delivery_ids: dict[str, str]
    event_ids: dict[str, int]


def seed(engine: Engine) -> Rows:
    with Session(engine) as session, session.begin():
        user = make_user(session)
        client = make_client(session, allow_seller=True)

        def otp(created: timedelta, expires: datetime | None = None) -> OneTimePassword:
            return make_otp_row(
                session, user=user, client=client, created_at=NOW - created, expires_at=expires
            )

        otps = {
            "long_expired": otp(timedelta(hours=2)),
            "just_expired": otp(timedelta(hours=1), NOW - TICK),
            "expires_now": otp(timedelta(hours=1), NOW),
            "live": otp(timedelta(minutes=5)),
            "expired_inside_throttle_window": otp(timedelta(minutes=12)),
        }
        deliveries = {
            "delivered_of_long_expired": make_delivery(
                session, otp=otps["long_expired"], status=DELIVERED
            ),
            "pending_of_long_expired": make_delivery(session, otp=otps["long_expired"]),
            "pending_of_window_otp": make_delivery(
                session, otp=otps["expired_inside_throttle_window"]
            ),
            "pending_expiring_now": make_delivery(session, otp=otps["expires_now"]),
            "pending_of_live": make_delivery(session, otp=otps["live"]),
        }
        events = {
            "past_retention": make_auth_event(
                session, at=NOW - timedelta(seconds=RETENTION) - TICK
            ),
            "at_retention": make_auth_event(session, at=NOW - timedelta(seconds=RETENTION)),
            "recent": make_auth_event(session, at=NOW - timedelta(days=1)),
        }
        return Rows(
            otp_ids={name: row.id for name, row in otps.items()},
            delivery_ids={name: row.id for name, row in deliveries.items()},
            event_ids={name: row.id for name, row in events.items()},
        )


def test_purge_deletes_only_what_has_outlived_its_use(purge_engine: Engine) -> None:
    rows = seed(purge_engine)

    report = purge_expired(
        purge_engine, now=NOW, audit_retention=RETENTION, throttle_window=THROTTLE_WINDOW
    )

    assert report == PurgeReport(
        expired_deliveries=2, deleted_one_time_passwords=2, deleted_auth_events=1
    )
    with Session(purge_engine) as session:
        kept_otps = set(session.scalars(select(OneTimePassword.id)))
        deliveries = {row.id: row for row in session.scalars(select(Delivery))}
        kept_events = set(session.scalars(select(AuthEvent.id)))
    names = {otp_id: name for name, otp_id in rows.otp_ids.items()}
    assert {names[otp_id] for otp_id in kept_otps} == {
        "expires_now",
        "live",
        "expired_inside_throttle_window",
    }
    assert set(deliveries) == set(rows.delivery_ids.values()), "delivery rows are kept"
    status = {name: deliveries[i].status for name, i in rows.delivery_ids.items()}
    assert status == {
        "delivered_of_long_expired": DELIVERED,
        "pending_of_long_expired": EXPIRED,
        "pending_of_window_otp": EXPIRED,
        "pending_expiring_now": PENDING,
        "pending_of_live": PENDING,
    }
    orphaned = deliveries[rows.delivery_ids["delivered_of_long_expired"]]
    assert orphaned.otp_id is None
    assert orphaned.user_id and orphaned.request_id
    assert kept_events == {rows.event_ids["at_retention"], rows.event_ids["recent"]}


def test_a_second_purge_at_the_same_instant_finds_nothing_more(purge_engine: Engine) -> None:
    seed(purge_engine)
    purge_expired(purge_engine, now=NOW, audit_retention=RETENTION, throttle_window=THROTTLE_WINDOW)

    again = purge_expired(
        purge_engine, now=NOW, audit_retention=RETENTION, throttle_window=THROTTLE_WINDOW
    )

    assert again == PurgeReport(0, 0, 0)


def test_purge_works_through_more_rows_than_one_batch(purge_engine: Engine) -> None:
    with Session(purge_engine) as session, session.begin():
        user = make_user(session)
        client = make_client(session, allow_seller=True)
        for minutes in range(60, 67):
            otp = make_otp_row(
                session, user=user, client=client, created_at=NOW - timedelta(minutes=minutes)
            )
            make_delivery(session, otp=otp)
        for days in range(31, 36):
            make_auth_event(session, at=NOW - timedelta(days=days))

    report = purge_expired(purge_engine, now=NOW, audit_retention=RETENTION, batch_size=2)

    assert report == PurgeReport(
        expired_deliveries=7, deleted_one_time_passwords=7, deleted_auth_events=5
    )
    with Session(purge_engine) as session:
        assert session.scalar(select(func.count()).select_from(OneTimePassword)) == 0
        assert session.scalar(select(func.count()).select_from(Delivery)) == 7


def run_purge(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        otp_command("purge"),
        env={**os.environ, "OTP_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_otp_purge_prints_its_counts_as_one_json_line(
    committed_db: Engine, database_url: str
) -> None:
    now = datetime.now(UTC)
    with Session(committed_db) as session, session.begin():
        user = make_user(session)
        client = make_client(session, allow_seller=True)
        stale = make_otp_row(session, user=user, client=client, created_at=now - timedelta(hours=3))
        make_delivery(session, otp=stale)
        make_otp_row(session, user=user, client=client, created_at=now)
        make_auth_event(session, at=now - timedelta(days=31))
        make_auth_event(session, at=now)

    result = run_purge(database_url)

    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"expired_deliveries": 1, "deleted_one_time_passwords": 1, "deleted_auth_events": 1}
    ]


def test_otp_purge_against_an_unreachable_database_says_so_in_one_line() -> None:
    result = run_purge("postgresql+psycopg://nobody@127.0.0.1:1/x")

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("otp purge: database unreachable")
