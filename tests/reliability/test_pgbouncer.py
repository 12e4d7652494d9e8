"""The api, the token handler and the workers behind PgBouncer 1.18 in transaction mode.

Every process reaches PostgreSQL through one PgBouncer of the test's own
(``tests.reliability.pgbouncer``) whose server pool is smaller than the connections the
processes open, with ``OTP_DATABASE_PREPARED_STATEMENTS=off``. First, why the setting:
psycopg's server-side prepared statements break there without it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.models import Buyer, User
from core.platform.db import make_engine
from tests.factories import make_user
from tests.reliability.cluster import http_service, running, worker_service
from tests.reliability.conftest import Rig
from tests.reliability.load import Load, Send, error_code, otp_request, token_request
from tests.reliability.pgbouncer import SERVER_POOL_SIZE, PgBouncer
from tests.reliability.scale import scaled
from tests.reliability.test_token_races import PASSWORD, THRESHOLD, WRONG_GUESSES

pytestmark = pytest.mark.e2e

USERS = scaled(full=60, ci=15)  # OTPs requested through the api, then raced at the token
CONTENDERS = 20
LOCK_TARGET = "bouncer-lock-target"


def _same_statement_on_two_server_connections(engine: Engine) -> str:
    """Run one statement often enough for psycopg to prepare it, let another client take
    that server connection (PgBouncer hands out the most recently used one), run it again."""
    with engine.connect() as first, engine.connect() as second:
        statement = text("SELECT CAST(:n AS integer) + 1")
        try:
            for n in range(8):
                first.execute(statement, {"n": n})
            first.commit()
            second.execute(text("SELECT 1"))  # a transaction held open on that server
            for n in range(3):
                first.execute(statement, {"n": n})
            first.commit()
        except DBAPIError as error:
            return str(error.orig)
        finally:
            second.rollback()
    return "ok"


def test_prepared_statements_break_behind_pgbouncer_in_transaction_mode_unless_turned_off(
    pgbouncer: PgBouncer, database_url: str
) -> None:
    outcomes = {}
    for prepared in (True, False):
        engine = make_engine(
            pgbouncer.url_for(database_url), pool_size=2, prepared_statements=prepared
        )
        try:
            outcomes[prepared] = _same_statement_on_two_server_connections(engine)
        finally:
            engine.dispose()

    assert "does not exist" in outcomes[True], outcomes
    assert outcomes[False] == "ok"


class PoolWatch:
    """Samples PgBouncer's client and server connections to one database, on a thread."""

    def __init__(self, bouncer: PgBouncer, database: str) -> None:
        self.bouncer = bouncer
        self.database = database
        self.most_clients = 0
        self.most_servers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _count(self, what: str) -> int:
        return sum(row["database"] == self.database for row in self.bouncer.show(what))

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.most_clients = max(self.most_clients, self._count("CLIENTS"))
            self.most_servers = max(self.most_servers, self._count("SERVERS"))

    def __enter__(self) -> PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def bouncer_env(rig: Rig, pgbouncer: PgBouncer) -> Iterator[dict[str, str]]:
    yield rig.env(
        proxied_database=False,
        proxied_broker=False,
        OTP_DATABASE_URL=pgbouncer.url_for(rig.database_url),
        OTP_DATABASE_PREPARED_STATEMENTS="off",
    )


@pytest.mark.timeout(scaled(full=900, ci=300))
def test_otp_flow_single_use_race_and_lockout_race_pass_with_every_process_behind_pgbouncer(
    rig: Rig, pgbouncer: PgBouncer, bouncer_env: dict[str, str]
) -> None:
    market = rig.seed(users=USERS, prefix="bouncer", allowed_failed_attempts=THRESHOLD)
    with Session(rig.engine) as session, session.begin():
        buyer = session.get_one(Buyer, market.buyer_id)
        lock_target = make_user(session, buyer=buyer, username=LOCK_TARGET, password=PASSWORD)
        lock_target_id = lock_target.id
    api = http_service("api", bouncer_env, workers=2, threads=8)
    token = http_service("token", bouncer_env, workers=2, threads=16)
    worker = worker_service(bouncer_env, threads=8)
    rig.leak_guard.watch(api, token, worker)
    database = urlsplit(rig.database_url).path.lstrip("/")
    ledger = rig.receiver.ledger

    def otp_for(username: str) -> tuple[str, Send]:
        return username, otp_request({"ClientID": market.client_id, "Username": username})

    def login(username: str, password: str) -> tuple[str, Send]:
        form = {
            "grant_type": "password",
            "client_id": market.client_id,
            "username": username,
            "password": password,
        }
        return username, token_request(form)

    with running(api, token, worker), PoolWatch(pgbouncer, database) as pool:
        # 1. The OTP flow: request through the api, fanned out and delivered by the workers.
        usernames = [*market.usernames, LOCK_TARGET]
        with Load(api.base_url, concurrency=16) as load:
            requested = load.run([otp_for(name) for name in usernames])
        ledger.wait_for(lambda seen: seen.accepted_usernames() >= set(usernames), timeout=120)
        codes = {name: min(found) for name, found in ledger.codes_by_username().items()}
        rig.leak_guard.saw_codes(codes.values())

        # 2. Each delivered code, 20 concurrent logins: exactly one wins, every round.
        with Load(token.base_url, concurrency=WRONG_GUESSES) as load:
            rounds = [
                load.race([login(name, codes[name])] * CONTENDERS) for name in market.usernames
            ]
            # 3. 100 concurrent wrong guesses: exactly THRESHOLD are counted, then locked.
            wrong = [
                login(LOCK_TARGET, f"wrong password {n}" if n % 2 else f"{n:08d}")
                for n in range(1, WRONG_GUESSES + 1)
            ]
            guesses = load.race(wrong)
            right_password = load.call(*login(LOCK_TARGET, PASSWORD))
            right_otp = load.call(*login(LOCK_TARGET, codes[LOCK_TARGET]))

    winners = [sum(answer.status == 200 for answer in answers) for answers in rounds]
    losers = Counter(error_code(a) for answers in rounds for a in answers if a.status != 200)
    outcomes = Counter(error_code(answer) for answer in guesses)
    with Session(rig.engine) as session:
        counter = session.get_one(User, lock_target_id).failed_login_attempts
    rig.figures.record(
        "pgbouncer_transaction_mode",
        pgbouncer=pgbouncer.show("VERSION")[0]["version"],
        server_pool=SERVER_POOL_SIZE,
        most_client_connections=pool.most_clients,
        most_server_connections=pool.most_servers,
        otp_requests=len(requested),
        delivered=len(ledger.accepted_usernames() & set(usernames)),
        single_use_rounds=len(rounds),
        rounds_with_one_success=winners.count(1),
        lockout_counted=outcomes["Auth.InvalidUsernameOrPassword"],
        lockout_locked_out=outcomes["Auth.LockedOut"],
    )

    # Through PgBouncer indeed, with more app connections than server connections.
    assert pool.most_clients > SERVER_POOL_SIZE >= pool.most_servers > 0, (
        pool.most_clients,
        pool.most_servers,
    )
    assert {answer.status for answer in requested} == {204}
    assert all(len(found) == 1 for found in ledger.codes_by_username().values())
    assert winners == [1] * len(market.usernames)
    assert set(losers) <= {"Auth.InvalidUsernameOrPassword", "Auth.LockedOut"}, losers
    assert set(outcomes) == {"Auth.InvalidUsernameOrPassword", "Auth.LockedOut"}, outcomes
    assert outcomes["Auth.InvalidUsernameOrPassword"] == THRESHOLD
    assert counter == THRESHOLD
    assert error_code(right_password) == "Auth.LockedOut"
    assert error_code(right_otp) == "Auth.LockedOut"
    for service in (api, token, worker):
        assert "prepared statement" not in service.output()
        assert "Traceback" not in service.output()
