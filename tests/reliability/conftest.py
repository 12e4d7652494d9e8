"""Fixtures of the reliability suite: fault proxies, a webhook receiver, leak scanning, figures.

Every test here is marked ``reliability``. A test that starts processes registers them and
the codes it saw with :class:`LeakGuard`; after the test (before ``committed_db`` empties
the tables) the guard scans every table, every queue of the session's vhost and every log
line those processes wrote for those codes, and fails the test on any hit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.reliability.cluster import ServiceProcess, service_env
from tests.reliability.faults import FaultProxy, proxied
from tests.reliability.leaks import Leak, ScanReport, scan_database, scan_logs, scan_queues
from tests.reliability.marketplace import Marketplace, seed_marketplace
from tests.reliability.pgbouncer import PgBouncer, find_or_install, running_pgbouncer
from tests.reliability.receiver import WebhookReceiver, new_signing_key

FIGURES_ENV = "OTP_RELIABILITY_FIGURES"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


# -- figures: what the table of tests/reliability/README.md reports ----------------------
@dataclass
class Figures:
    """Numbers the tests measured, written as JSON when ``OTP_RELIABILITY_FIGURES`` is set."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, name: str, **values: Any) -> None:
        self.rows.setdefault(name, {}).update(values)


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    collected = Figures()
    yield collected
    target = os.environ.get(FIGURES_ENV)
    if target:
        Path(target).write_text(json.dumps(collected.rows, indent=2, sort_keys=True) + "\n")


# -- leak scanning -----------------------------------------------------------------------
@dataclass
class LeakTotals:
    report: ScanReport = field(default_factory=ScanReport)
    codes: int = 0
    leaks: list[Leak] = field(default_factory=list)
    scans: int = 0


@pytest.fixture(scope="session")
def leak_totals(figures: Figures) -> Iterator[LeakTotals]:
    totals = LeakTotals()
    yield totals
    figures.record(
        "leaks",
        scans=totals.scans,
        codes=totals.codes,
        tables=totals.report.tables,
        rows=totals.report.rows,
        queues=totals.report.queues,
        messages=totals.report.messages,
        logs=totals.report.logs,
        log_bytes=totals.report.log_bytes,
        hits=len(totals.leaks),
    )


@dataclass
class LeakGuard:
    """Collects the codes a test saw and the processes whose logs must not contain them."""

    codes: set[str] = field(default_factory=set)
    log_paths: list[Path] = field(default_factory=list)
    services: list[ServiceProcess] = field(default_factory=list)

    def watch(self, *services: ServiceProcess) -> None:
        self.services.extend(services)

    def saw_codes(self, codes: Iterable[str]) -> None:
        self.codes.update(code for code in codes if code)

    def all_log_paths(self) -> list[Path]:
        return [*self.log_paths, *(path for s in self.services for path in s.log_paths)]


@pytest.fixture
def leak_guard(
    committed_db: Engine, database_url: str, clean_broker: str, leak_totals: LeakTotals
) -> Iterator[LeakGuard]:
    guard = LeakGuard()
    yield guard
    for service in guard.services:
        service.stop()
    if not guard.codes:
        return
    leaks: list[Leak] = []
    for found, report in (
        scan_database(database_url, guard.codes),
        scan_queues(clean_broker, guard.codes),
        scan_logs(guard.all_log_paths(), guard.codes),
    ):
        leaks.extend(found)
        leak_totals.report.add(report)
    leak_totals.codes += len(guard.codes)
    leak_totals.scans += 1
    leak_totals.leaks.extend(leaks)
    assert not leaks, f"issued codes found outside the delivered messages: {leaks[:10]}"


# -- faults and the subscriber -----------------------------------------------------------
@pytest.fixture
def database_proxy(database_url: str) -> Iterator[tuple[FaultProxy, str]]:
    with proxied(database_url, 5432) as pair:
        yield pair


@pytest.fixture
def broker_proxy(clean_broker: str) -> Iterator[tuple[FaultProxy, str]]:
    with proxied(clean_broker, 5672) as pair:
        yield pair


@pytest.fixture(scope="module")
def pgbouncer(database_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the session's PostgreSQL, per module."""
    binary = find_or_install()
    if binary is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with running_pgbouncer(binary, database_url) as bouncer:
        yield bouncer


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(new_signing_key()) as running_receiver:
        yield running_receiver


@dataclass
class Rig:
    """Everything a fault test needs, in one fixture."""

    engine: Engine
    database_url: str
    broker_url: str
    database_proxy: FaultProxy
    broker_proxy: FaultProxy
    receiver: WebhookReceiver
    leak_guard: LeakGuard
    figures: Figures
    jwt_private_key: str

    def env(
        self, *, proxied_database: bool = True, proxied_broker: bool = True, **overrides: str
    ) -> dict[str, str]:
        """A service process environment; through the fault proxies unless told otherwise."""
        return service_env(
            database_url=self.database_proxy.url_for(self.database_url)
            if proxied_database
            else self.database_url,
            broker_url=self.broker_proxy.url_for(self.broker_url)
            if proxied_broker
            else self.broker_url,
            jwt_private_key=self.jwt_private_key,
            **overrides,
        )

    def seed(
        self, *, users: int, prefix: str, webhook_url: str | None = None, **options: Any
    ) -> Marketplace:
        return seed_marketplace(
            self.engine,
            webhook_url=webhook_url or self.receiver.url,
            signing_key=self.receiver.signing_key,
            users=users,
            prefix=prefix,
            **options,
        )


@pytest.fixture
def rig(  # noqa: PLR0917 - pytest passes fixtures as parameters; this one bundles them
    committed_db: Engine,
    database_url: str,
    clean_broker: str,
    database_proxy: tuple[FaultProxy, str],
    broker_proxy: tuple[FaultProxy, str],
    receiver: WebhookReceiver,
    leak_guard: LeakGuard,
    figures: Figures,
    jwt_private_key: str,
) -> Rig:
    return Rig(
        engine=committed_db,
        database_url=database_url,
        broker_url=clean_broker,
        database_proxy=database_proxy[0],
        broker_proxy=broker_proxy[0],
        receiver=receiver,
        leak_guard=leak_guard,
        figures=figures,
        jwt_private_key=jwt_private_key,
    )
