"""6. Lists: every kind of OrderCloud list call on one buyer holding 1,000,000 users.

A database of its own is seeded with ``INSERT ... SELECT FROM generate_series`` (indexes
dropped, then rebuilt): users with different creation times, some inactive, some active
recently, and an ``xp`` with a tier and a score. ``otp api`` serves it; each call is made
over HTTP, one at a time (a list is judged by how long one takes, not by throughput),
after warm-up calls, and its median and slowest times are reported. Each call's SQL (the
count and the page, built by the same store the api uses) is EXPLAINed with ANALYZE so
the report shows which index answered it.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from sqlalchemy import Select, event
from sqlalchemy.orm import Session

from api.admin.collection import ListParams, split_filters
from bench import seed
from bench.report import Figure, Goal, Report
from bench.scenarios.common import LARGE_POPULATION, Context, Population
from core.admin.collections import page_statements
from core.admin.identity import UserStore
from core.auth.tokens import TokenKeys
from core.identity.passwords import PasswordHasher
from core.models import BUYER, User
from core.platform.clock import SystemClock
from core.platform.db import make_engine
from core.platform.settings import Argon2Parameters, load_settings

GOAL_MS = 100.0
WARM_UP_CALLS = 2
TIMED_CALLS = 9
LIST_PATH = f"/v1/buyers/{seed.BUYER_ID}/users"


@dataclass(frozen=True)
class Call:
    label: str
    params: tuple[tuple[str, str], ...]

    @property
    def query(self) -> str:
        return urlencode(self.params)


def calls(users: int) -> list[Call]:
    last_page = (users + 19) // 20
    middle = users // 2
    return [
        Call("first page", ()),
        Call("page 2, pageSize 100", (("page", "2"), ("pageSize", "100"))),
        Call(f"last page ({last_page:,})", (("page", str(last_page)),)),
        Call(
            f"middle page ({last_page // 2:,}), sortBy=!DateCreated",
            (("page", str(last_page // 2)), ("sortBy", "!DateCreated")),
        ),
        Call("sortBy=Username", (("sortBy", "Username"),)),
        Call("sortBy=!LastName", (("sortBy", "!LastName"),)),
        Call("sortBy=!LastActive", (("sortBy", "!LastActive"),)),
        Call("search a whole username", (("search", seed.username(users - 1)),)),
        Call("search digits (99999)", (("search", "99999"),)),
        Call(
            "search on Email only",
            (("search", f"{seed.username(middle)}@"), ("searchOn", "Email")),
        ),
        Call("filter Username exact", (("Username", seed.username(middle)),)),
        Call("filter Username wildcard (prefix)", (("Username", "user012345*"),)),
        Call("filter Username wildcard (contains)", (("Username", "*12345*"),)),
        Call("filter Username or", (("Username", f"{seed.username(7)}|{seed.username(8)}"),)),
        Call("filter Active=false (1 in 1,000)", (("Active", "false"),)),
        Call("filter Active=true, sortBy=Username", (("Active", "true"), ("sortBy", "Username"))),
        Call("filter xp.Tier=gold (1 in 100)", (("xp.Tier", "gold"),)),
        Call(
            "filter xp.Tier=gold, sortBy=!DateCreated",
            (("xp.Tier", "gold"), ("sortBy", "!DateCreated")),
        ),
        Call(
            "filter DateCreated range",
            (
                ("DateCreated", ">2000-01-01T00:00:00+00:00"),
                ("DateCreated", "<2000-01-01T00:10:00+00:00"),
            ),
        ),
        Call(
            "search + filter + sort",
            (("search", "user09999"), ("Active", "true"), ("sortBy", "!DateCreated")),
        ),
    ]


# Users created one second apart from 2000-01-01; one in 1,000 inactive; one in 10 active
# in the last days; xp {"Tier": gold (1 in 100) | silver | bronze, "Score": 0..999}.
SEED_USERS_SQL = """
INSERT INTO users (id, user_type, buyer_id, username, email, first_name, last_name, active,
                   xp, password_hash, failed_login_attempts, locked, created_at, last_login_at)
SELECT 'u' || lpad(n::text, 7, '0'), 'buyer', %(buyer)s,
       'user' || lpad(n::text, 7, '0'), 'user' || lpad(n::text, 7, '0') || '@bench.example',
       'Bench', 'User ' || n, n %% 1000 <> 0,
       jsonb_build_object(
           'Tier', CASE WHEN n %% 100 = 0 THEN 'gold' WHEN n %% 2 = 0 THEN 'silver'
                        ELSE 'bronze' END,
           'Score', n %% 1000),
       %(hash)s, 0, false,
       timestamptz '2000-01-01 00:00:00+00' + make_interval(secs => n),
       CASE WHEN n %% 10 = 0 THEN now() - make_interval(secs => n) END
FROM generate_series(1, %(count)s) AS n
"""


def seed_list_users(connection: psycopg.Connection, count: int, password_hash: str) -> float:
    started = time.monotonic()
    indexes = seed.secondary_indexes(connection, "users")
    for name, _ in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    connection.execute(
        SEED_USERS_SQL, {"buyer": seed.BUYER_ID, "hash": password_hash, "count": count}
    )
    for _, definition in indexes:
        connection.execute(definition)
    connection.execute("VACUUM (ANALYZE) users")
    return time.monotonic() - started


def explain(session: Session, statement: Select[Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of ``statement`` as the api sends it (same SQL and
    parameters: taken from the cursor just before the statement itself runs)."""
    lines: list[str] = []

    def capture(
        _conn: Any, cursor: Any, sql: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", parameters)
        lines.extend(str(row[0]) for row in cursor.fetchall())

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        connection.execute(statement).all()
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    return "\n".join(lines)


def plans(population: Population, call: Call) -> str:
    """The count's and the page's plans, from the api's own store and page builder."""
    engine = make_engine(population.database_url, pool_size=1)
    store = UserStore(BUYER, PasswordHasher(Argon2Parameters()), SystemClock())
    params = dict(call.params)
    query = ListParams.model_validate(params).to_query(split_filters(ListParams, call.params))
    try:
        with Session(engine) as session:
            statement, order = store.list_statement(session, query, {"buyer_id": seed.BUYER_ID})
            count, _ = page_statements(statement, query, order=order, id_column=User.id)
            total = int(session.scalar(count) or 0)
            _, rows = page_statements(statement, query, order=order, id_column=User.id, total=total)
            return f"-- count\n{explain(session, count)}\n-- page\n{explain(session, rows)}"
    finally:
        engine.dispose()


BENCH_ADMIN = "bench-admin"


def add_bench_admin(connection: psycopg.Connection) -> None:
    """The admin user the benchmark's token speaks for: the admin API checks it exists."""
    connection.execute(
        "INSERT INTO users (id, username, user_type, first_name, last_name, active, xp,"
        " failed_login_attempts, locked, created_at, token_version)"
        " VALUES (%s, %s, 'admin', '', '', true, '{}', 0, false, now(), 0)"
        " ON CONFLICT DO NOTHING",
        (BENCH_ADMIN, BENCH_ADMIN),
    )


def admin_token(ctx: Context) -> str:
    keys = TokenKeys(load_settings(ctx.stack.environment()))
    return keys.issue_access_token(
        username=BENCH_ADMIN,
        user_id=BENCH_ADMIN,
        token_version=0,
        client_id=ctx.client_id,
        user_type="admin",
        roles=["BuyerUserReader"],
        token_id="bench-lists",
        now=datetime.now(UTC),
        lifetime=timedelta(hours=2),
    )


def time_call(client: httpx.Client, url: str, call: Call) -> tuple[list[float], int]:
    """Milliseconds of each timed call, and the TotalCount answered."""
    target = f"{url}{LIST_PATH}?{call.query}"
    total = 0
    for _ in range(WARM_UP_CALLS):
        response = client.get(target)
        response.raise_for_status()
        total = int(response.json()["Meta"]["TotalCount"])
    timings: list[float] = []
    for _ in range(TIMED_CALLS):
        began = time.perf_counter()
        response = client.get(target)
        timings.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return timings, total


def run_lists(ctx: Context, command: str) -> Report:
    report = Report(
        "lists", "Lists: filters, search, sort and deep pages at 1,000,000 users", command
    )
    users = int(os.environ.get("BENCH_LIST_USERS", LARGE_POPULATION))
    assert ctx.receiver is not None
    url = ctx.stack.create_database("lists")
    with ctx.stack.connect(url) as connection:
        seed.seed_marketplace(connection, client_id=ctx.client_id, webhook_url=ctx.receiver.url)
        took = seed_list_users(connection, users, ctx.password_hash)
        add_bench_admin(connection)
        size = connection.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('users'))"
        ).fetchone()
    population = Population("lists", users, url, took)
    token = admin_token(ctx)
    rows: list[tuple[Call, list[float], int, str]] = []
    with (
        ctx.api(population=population) as (api_url, _),
        httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
    ):
        for call in calls(users):
            timings, total = time_call(client, api_url, call)
            rows.append((call, timings, total, plans(population, call)))
    medians = []
    for call, timings, total, _ in rows:
        median = statistics.median(timings)
        medians.append(median)
        report.figures.append(
            Figure(
                f"{call.label} (TotalCount {total:,}; slowest {max(timings):.0f} ms)", median, "ms"
            )
        )
    worst = max(medians)
    report.goals.append(
        Goal(
            f"every list call answers in ≤ {GOAL_MS:.0f} ms at {users:,} users (median)",
            worst <= GOAL_MS,
            f"slowest median {worst:.0f} ms",
        )
    )
    report.setup += [
        f"One buyer with {users:,} users, seeded with INSERT ... SELECT FROM generate_series "
        f"(secondary indexes dropped and rebuilt, VACUUM ANALYZE) in {took:.0f} s; users "
        f"table with its indexes: {size[0] if size else '?'}.",
        f"`otp api` (2 workers x 8 threads) on that database; `GET {LIST_PATH}?...` with an "
        f"admin token (BuyerUserReader), one call at a time over one keep-alive connection: "
        f"{WARM_UP_CALLS} warm-up calls, then {TIMED_CALLS} timed; figures are the median.",
    ]
    report.notes += [
        "Each call's time includes whatever else the machine ran meanwhile (see the load "
        "average and CPU pressure above): on a busy host every figure is an upper bound.",
        "Plans: EXPLAIN (ANALYZE, BUFFERS) of the count and of the page, built by the api's "
        "own store (`UserStore.list_statement`, `page_statements`) for each call, run after "
        "its timed calls.",
    ]
    report.sections = {f"Plan: {call.label} (?{call.query})": plan for call, _, _, plan in rows}
    return report
