"""7. Levers: the hot-path choices not built into the product, each an A/B in one process.

Each pair runs the product's way (A) and the alternative (B) on the same data in
alternating rounds, and compares client CPU per operation (``time.process_time``, so a
wait for PostgreSQL or the receiver does not count) and, for statements, the PostgreSQL
backend's CPU per operation (from ``/proc``, in clock ticks: coarse over a round, so read
its median over the rounds). What a lever would save per OTP delivered or per OTP grant is
the difference times how often the hot path does that operation (bench/README.md, "The
hot path").
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import urllib3
from sqlalchemy import Engine, bindparam, select, update

from bench import seed
from bench.pipeline import webhook_sized_body
from bench.procstat import cpu_seconds
from bench.report import Figure, Report
from bench.scenarios.common import Context
from bench.stack import SECRET_KEY as SECRET_TEXT
from core.auth.audit import OTP, SUCCESS, TokenAttempt, auth_event_row
from core.auth.authentication import _BY_USERNAME, read_grant_facts
from core.auth.otp_login import _SIGN_IN, sign_in_with_otp
from core.delivery.context import _WITH_CONTEXT, lock_delivery
from core.delivery.service import _SAVE_OUTCOME
from core.models import Delivery
from core.otp.codes import lookup_hash
from core.platform.runtime import Runtime
from core.platform.settings import load_settings

# A psycopg connection to the levers database, in autocommit (``Stack.connect``); the
# transaction pairs open their transactions explicitly, as the product's do.
Connect = Callable[[], "psycopg.Connection[Any]"]

ROUNDS = 6
OPERATIONS = 1000  # per side and round
SECRET_KEY = SECRET_TEXT.encode()
_SAVE_COLUMNS = ["status", "attempts", "last_error", "last_status_code", "updated_at"]


@dataclass(frozen=True)
class Pair:
    """One lever: client (and server) CPU ms per operation, A and B, medians of rounds."""

    name: str
    a_name: str
    b_name: str
    a_client: float
    b_client: float
    a_server: float | None = None
    b_server: float | None = None


def _round(
    step: Callable[[int], None], first: int, count: int, pid: int | None
) -> tuple[float, float | None]:
    server_before = (cpu_seconds(pid) or 0.0) if pid else 0.0
    began = time.process_time()
    for index in range(first, first + count):
        step(index)
    client = (time.process_time() - began) / count * 1000
    server = ((cpu_seconds(pid) or 0.0) - server_before) / count * 1000 if pid else None
    return client, server


def _paired(
    name: str,
    a: tuple[str, Callable[[int], None], int | None],
    b: tuple[str, Callable[[int], None], int | None],
    *,
    operations: int,
    fresh: bool = False,
) -> Pair:
    """Alternate A and B rounds (one warm-up each). ``fresh``: every operation needs an
    index of its own (it uses its row up), so rounds take consecutive ranges."""
    results: dict[str, list[tuple[float, float | None]]] = {"a": [], "b": []}
    next_index = 0
    for round_number in range(ROUNDS + 1):
        for side, (_, step, pid) in (("a", a), ("b", b)):
            first = next_index if fresh else 0
            measured = _round(step, first, operations, pid)
            next_index += operations if fresh else 0
            if round_number > 0:
                results[side].append(measured)

    def median(side: str, at: int) -> float | None:
        values = [row[at] for row in results[side]]
        return None if values[0] is None else statistics.median(v for v in values if v is not None)

    return Pair(
        name,
        a[0],
        b[0],
        median("a", 0) or 0.0,
        median("b", 0) or 0.0,
        median("a", 1),
        median("b", 1),
    )


def _delivery_sql(engine: Engine) -> tuple[str, str]:
    """The delivery's lock (with its context) and outcome UPDATE, as the product's engine
    compiles them for psycopg."""
    save = _SAVE_OUTCOME.compile(dialect=engine.dialect, column_keys=_SAVE_COLUMNS)
    return str(_WITH_CONTEXT.compile(dialect=engine.dialect)), str(save)


def _engine_backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _pending_outcome(delivery_id: str, at: datetime) -> dict[str, Any]:
    """The outcome UPDATE's parameters, leaving the row pending and unattempted: the same
    rows serve every round."""
    return {
        "delivery_id": delivery_id,
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "last_status_code": None,
        "updated_at": at,
    }


def delivery_pair(engine: Engine, connect: Connect, delivery_ids: list[str]) -> Pair:
    """The delivery's transaction without its HTTP attempt: the locked row with its
    context, then the outcome UPDATE (left pending, so the rows serve every round)."""
    now = datetime.now(UTC)

    def outcome(index: int) -> dict[str, Any]:
        return _pending_outcome(delivery_ids[index], now)

    def with_sqlalchemy(index: int) -> None:
        with engine.begin() as connection:
            lock_delivery(connection, delivery_ids[index])
            connection.execute(_SAVE_OUTCOME, outcome(index))

    lock_sql, save_sql = _delivery_sql(engine)
    with connect() as raw:

        def with_psycopg(index: int) -> None:
            with raw.transaction():
                raw.execute(lock_sql, {"delivery_id": delivery_ids[index]}, prepare=True).fetchone()
                raw.execute(save_sql, outcome(index), prepare=True)

        return _paired(
            "delivery transaction (lock with context, outcome UPDATE, BEGIN, COMMIT)",
            ("SQLAlchemy Core, pooled (the product)", with_sqlalchemy, _engine_backend(engine)),
            ("psycopg directly, prepared", with_psycopg, raw.info.backend_pid),
            operations=len(delivery_ids),
        )


def lease_pair(engine: Engine, connect: Connect, delivery_ids: list[str]) -> Pair:
    """The delivery's claim: a row lock held across the attempt (a transaction of four
    round trips) against a lease taken by a conditional UPDATE in a CTE with the context,
    then the outcome UPDATE, each its own transaction (two round trips). Both on psycopg
    directly; ``updated_at`` stands in for a lease column (no such column exists)."""
    now = datetime.now(UTC)
    lease = (
        update(Delivery)
        .where(
            Delivery.id == bindparam("delivery_id"),
            Delivery.status == "pending",
            Delivery.updated_at < bindparam("lease_until"),
        )
        .values(updated_at=bindparam("lease_until"))
        .returning(Delivery.id)
        .cte("claimed")
    )
    claim = _WITH_CONTEXT.where(Delivery.id.in_(select(lease.c.id))).add_cte(lease)
    claim._for_update_arg = None  # the lease replaces the row lock
    lock_sql, save_sql = _delivery_sql(engine)
    claim_compiled = claim.compile(dialect=engine.dialect)
    claim_sql = str(claim_compiled)

    def outcome(index: int, at: datetime) -> dict[str, Any]:
        return _pending_outcome(delivery_ids[index], at)

    with connect() as raw, connect() as leased:

        def row_lock(index: int) -> None:
            with raw.transaction():
                raw.execute(lock_sql, {"delivery_id": delivery_ids[index]}, prepare=True).fetchone()
                raw.execute(save_sql, outcome(index, now), prepare=True)

        def with_lease(index: int) -> None:
            claimed = leased.execute(
                claim_sql,
                {
                    **claim_compiled.params,
                    "delivery_id": delivery_ids[index],
                    "lease_until": now + timedelta(seconds=30),
                },
                prepare=True,
            ).fetchone()
            assert claimed is not None
            leased.execute(save_sql, outcome(index, now), prepare=True)  # the lease ends

        return _paired(
            "delivery claim (psycopg directly, prepared)",
            ("row lock across the attempt (the product)", row_lock, raw.info.backend_pid),
            ("lease UPDATE in a CTE, then the outcome", with_lease, leased.info.backend_pid),
            operations=len(delivery_ids),
        )


def grant_pair(
    engine: Engine, connect: Connect, client_id: str, credentials: list[tuple[str, str]]
) -> Pair:
    """An OTP grant's two statements: the grant's facts, then the one-statement sign-in."""
    now = datetime.now(UTC)
    attempt = TokenAttempt("password", client_id, "127.0.0.1", method=OTP)

    def sign_in_parameters(username: str, code: str) -> dict[str, Any]:
        user_id = seed.user_id(int(username.removeprefix("user")))
        attempt.user_id = user_id
        return {
            "digest": lookup_hash(SECRET_KEY, user_id=user_id, client_id=client_id, code=code),
            "subject_id": user_id,
            "for_client": client_id,
            "now": now,
            **{f"event_{k}": v for k, v in auth_event_row(attempt, SUCCESS, now).items()},
        }

    def with_sqlalchemy(index: int) -> None:
        username, code = credentials[index]
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            facts = read_grant_facts(connection, client_id, username=username)
        assert facts.user is not None
        attempt.user_id = facts.user.id
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            signed_in = sign_in_with_otp(
                connection,
                SECRET_KEY,
                user_id=facts.user.id,
                client_id=client_id,
                candidate=code,
                now=now,
                auth_event=auth_event_row(attempt, SUCCESS, now),
                refresh_token=None,
            )
        assert signed_in is not None

    read = _BY_USERNAME.compile(dialect=engine.dialect)
    sign_in = _SIGN_IN.compile(dialect=engine.dialect)
    read_sql, sign_in_sql = str(read), str(sign_in)
    with connect() as raw:

        def with_psycopg(index: int) -> None:
            username, code = credentials[index]
            parameters = {**read.params, "client_id": client_id, "username_lower": username}
            assert raw.execute(read_sql, parameters, prepare=True).fetchall()
            parameters = {**sign_in.params, **sign_in_parameters(username, code)}
            assert raw.execute(sign_in_sql, parameters, prepare=True).fetchone() is not None

        return _paired(
            "OTP grant's statements (facts, one-statement sign-in), each on its own checkout",
            ("SQLAlchemy Core, pooled (the product)", with_sqlalchemy, _engine_backend(engine)),
            ("psycopg directly, prepared, one connection", with_psycopg, raw.info.backend_pid),
            operations=len(credentials) // (2 * (ROUNDS + 1)),
            fresh=True,
        )


def checkout_pair(engine: Engine) -> Pair:
    """A pool checkout and checkin (a busy connection: no ping) against nothing."""

    def checkout(_: int) -> None:
        with engine.connect() as connection:
            # as the grant's read and sign-in do; the checkin resets it
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.connection  # noqa: B018 - the checkout is the work measured

    def nothing(_: int) -> None:
        return None

    return _paired(
        "connection checkout + checkin in autocommit (pooled, idle pre-ping, busy connection)",
        ("SQLAlchemy pool", checkout, None),
        ("no checkout", nothing, None),
        operations=OPERATIONS,
    )


def http_pair(receiver_url: str) -> Pair:
    """One webhook-sized POST over a kept-alive connection, the answer read and dropped."""
    body = webhook_sized_body("user0000001")
    headers = {"Content-Type": "application/json", "webhook-id": "msg_1"}
    url = f"{receiver_url}/hook"
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        pool = urllib3.PoolManager(maxsize=1, retries=False, timeout=5.0)

        def with_httpx(_: int) -> None:
            with client.stream("POST", url, content=body, headers=headers) as answer:
                assert answer.status_code < 300

        def with_urllib3(_: int) -> None:
            answer = pool.request("POST", url, body=body, headers=headers, preload_content=False)
            assert answer.status < 300
            answer.release_conn()

        try:
            return _paired(
                "webhook POST (keep-alive, answer unread)",
                ("httpx (the product)", with_httpx, None),
                ("urllib3 PoolManager", with_urllib3, None),
                operations=OPERATIONS,
            )
        finally:
            pool.clear()


def json_pair() -> Pair:
    """One OTP's JSON on the worker: the webhook body encoded; two Dramatiq messages
    (OtpRequested, delivery) decoded and one (the delivery) encoded."""
    body = json.loads(webhook_sized_body("user0000001"))
    message = {
        "queue_name": "otp.deliveries",
        "actor_name": "deliver",
        "args": ["0f6c8a8e-5b5e-4e0b-9f0e-3c1b2a4d5e6f", "webhook"],
        "kwargs": {},
        "options": {"correlation_id": "req-0123456789abcdef", "redelivered": False},
        "message_id": "0f6c8a8e-5b5e-4e0b-9f0e-3c1b2a4d5e70",
        "message_timestamp": 1765000000000,
    }
    encoded = json.dumps(message, separators=(",", ":")).encode()
    import orjson  # the bench extra's; the rest of the harness runs without it

    def with_json(_: int) -> None:
        json.dumps(body, separators=(",", ":")).encode()
        json.loads(encoded)
        json.loads(encoded)
        json.dumps(message, separators=(",", ":")).encode()

    def with_orjson(_: int) -> None:
        orjson.dumps(body)
        orjson.loads(encoded)
        orjson.loads(encoded)
        orjson.dumps(message)

    return _paired(
        "an OTP's JSON on the worker (webhook body, 3 Dramatiq messages)",
        ("json (the product)", with_json, None),
        ("orjson", with_orjson, None),
        operations=OPERATIONS * 10,
    )


def _delivery_rows(connection: psycopg.Connection[Any], count: int) -> list[str]:
    """``count`` pending deliveries through the bench sender, for OTPs of users 1..count."""
    rows = connection.execute(
        "INSERT INTO deliveries (id, otp_id, sender_id, target, channel, user_id, client_id,"
        " request_id, status, attempts, expires_at, created_at, updated_at)"
        " SELECT gen_random_uuid()::text, id, %s, 'Legacy', 'webhook', user_id, client_id,"
        " request_id, 'pending', 0, expires_at, created_at, created_at"
        " FROM one_time_passwords ORDER BY user_id LIMIT %s RETURNING id",
        (seed.SENDER_ID, count),
    ).fetchall()
    return [str(row[0]) for row in rows]


def run_levers(ctx: Context, command: str) -> Report:
    report = Report("levers", "Levers: the hot path's choices, each an A/B in one process", command)
    operations = max(50, round(OPERATIONS * float(os.environ.get("BENCH_SCALE", "1"))))
    grants = operations * 2 * (ROUNDS + 1)
    population = ctx.seed_population("levers", grants + operations)
    assert ctx.receiver is not None
    # The product's engine and secret keys, as the worker and the token handler build them.
    runtime = Runtime(
        load_settings({"OTP_SECRET_KEY": SECRET_TEXT, "OTP_DATABASE_URL": population.database_url})
    )
    with ctx.stack.connect(population.database_url) as connection:
        numbers = list(range(1, grants + operations + 1))
        credentials = seed.seed_otps(
            connection,
            client_id=ctx.client_id,
            secret_key=SECRET_KEY,
            length=runtime.settings.otp_length,
            numbers=numbers,
            lifetime=timedelta(hours=2),
        )
        delivery_ids = _delivery_rows(connection, operations)
        connection.execute("VACUUM ANALYZE")
    delivered_users = {seed.username(n) for n in numbers[:operations]}
    engine = runtime.engine
    connect = functools.partial(ctx.stack.connect, population.database_url)
    try:
        pairs = [
            delivery_pair(engine, connect, delivery_ids),
            lease_pair(engine, connect, delivery_ids),
            grant_pair(
                engine,
                connect,
                ctx.client_id,
                [pair for pair in credentials if pair[0] not in delivered_users],
            ),
            checkout_pair(engine),
            http_pair(ctx.receiver.url),
            json_pair(),
        ]
    finally:
        runtime.close()
    report.setup += [
        f"{ROUNDS} rounds of {operations:,} operations per side (the JSON pair 10x), A and B "
        "alternating, after one warm-up round each; figures are medians over the rounds.",
        "Client CPU is this process's `time.process_time()`; PostgreSQL's is the serving "
        "backend's user + system time from /proc (clock ticks of 10 ms over a round).",
        "Statements are the product's own, compiled by SQLAlchemy for psycopg; the "
        "psycopg side runs the same SQL text with `prepare=True` (the product's engine "
        "prepares after 5 uses too).",
    ]
    for pair in pairs:
        report.figures.append(
            Figure(
                f"{pair.name}: client CPU, {pair.b_name}",
                1000 * pair.b_client,
                "µs",
                1000 * pair.a_client,
                pair.a_name,
            )
        )
        if pair.a_server is not None and pair.b_server is not None:
            report.figures.append(
                Figure(
                    f"{pair.name}: PostgreSQL CPU, {pair.b_name}",
                    1000 * pair.b_server,
                    "µs",
                    1000 * pair.a_server,
                    pair.a_name,
                )
            )
    report.notes.append(
        'A ratio below 100% is what B would save against A; bench/README.md ("The hot '
        'path") turns these into CPU per OTP delivered and per OTP grant.'
    )
    return report
