"""PostgreSQL goes away (through the fault proxy) under token load and while workers work."""

from __future__ import annotations

import json
import time

from sqlalchemy.orm import Session

from core.messaging.routes import DELIVER_WEBHOOK, REQUESTS_QUEUE
from core.models import Buyer
from tests.factories import make_user
from tests.reliability.chaos import Outage
from tests.reliability.cluster import http_service, running, worker_service
from tests.reliability.conftest import Rig
from tests.reliability.faults import FaultProxy
from tests.reliability.load import Load, otp_request, token_request

PASSWORD = "correct horse battery staple"
RECOVERY_GRACE = 3.0


def test_token_requests_fail_cleanly_while_the_database_is_down_and_succeed_after(
    rig: Rig,
) -> None:
    market = rig.seed(users=0, prefix="dbtoken")
    with Session(rig.engine) as session, session.begin():
        user = make_user(
            session,
            buyer=session.get_one(Buyer, market.buyer_id),
            username="dbtoken-user",
            password=PASSWORD,
        )
        username = user.username
    token = http_service("token", rig.env(proxied_broker=False), workers=2, threads=4)
    rig.leak_guard.watch(token)
    form = {
        "grant_type": "password",
        "client_id": market.client_id,
        "username": username,
        "password": PASSWORD,
    }

    with (
        running(token),
        Load(token.base_url, concurrency=4) as load,
        Outage(rig.database_proxy, after=3.0, lasting=4.0) as outage,
    ):
        answers = list(load.paced(lambda n: (str(n), token_request(form)), rate=8, duration=11))

    during = [a for a in answers if a.started > outage.cut_at and a.finished < outage.restored_at]
    after = [a for a in answers if a.started > outage.restored_at + RECOVERY_GRACE]
    before = [a for a in answers if a.finished < outage.cut_at]
    rig.figures.record(
        "database_outage_token",
        requests=len(answers),
        ok_200=sum(a.status == 200 for a in answers),
        unavailable_503=sum(a.status == 503 for a in answers),
        other=sum(a.status not in {200, 503} for a in answers),
        answered_during_outage=len(during),
        outage_seconds=round(outage.restored_at - outage.cut_at, 1),
    )

    assert before and {a.status for a in before} == {200}
    assert during, "no token request was answered during the outage"
    assert {a.status for a in during} == {503}, sorted((a.status, a.body[:80]) for a in during)
    for answer in during:
        assert answer.headers.get("retry-after")
        assert b"Traceback" not in answer.body
        assert json.loads(answer.body)["Errors"][0]["ErrorCode"] == "ServiceUnavailable"
    assert {a.status for a in answers} <= {200, 503}
    assert after and {a.status for a in after} == {200}, "the token handler did not recover"
    assert "Traceback" not in token.output()


def test_otp_requests_accepted_while_workers_lose_the_database_are_delivered_after_it_returns(
    rig: Rig,
) -> None:
    market = rig.seed(users=40, prefix="dbwork")
    # The api reaches the database directly; only the workers' connection is cut, so
    # the requests are accepted and the fan-out must retry until PostgreSQL is back.
    api = http_service("api", rig.env(proxied_database=False, proxied_broker=False))
    worker_env = rig.env(proxied_broker=False)
    workers = [
        worker_service(worker_env, queues=(REQUESTS_QUEUE,), threads=4),
        worker_service(worker_env, queues=(DELIVER_WEBHOOK.queue_name,), threads=4),
    ]
    rig.leak_guard.watch(api, *workers)
    proxy: FaultProxy = rig.database_proxy
    wanted = set(market.usernames)

    with running(api, *workers), Load(api.base_url, concurrency=8) as load:
        proxy.cut()
        answers = load.run(
            [
                (name, otp_request({"ClientID": market.client_id, "Username": name}))
                for name in market.usernames
            ]
        )
        # Let the fan-out fail against the missing database before it comes back.
        time.sleep(4.0)
        delivered_while_down = set(rig.receiver.ledger.accepted_usernames())
        proxy.restore()
        rig.receiver.ledger.wait_for(
            lambda ledger: ledger.accepted_usernames() >= wanted, timeout=150
        )

    ledger = rig.receiver.ledger
    rig.leak_guard.saw_codes(ledger.codes())
    lost = wanted - ledger.accepted_usernames()
    rig.figures.record(
        "database_outage_workers",
        requests=len(answers),
        accepted_204=sum(a.status == 204 for a in answers),
        delivered=len(wanted & ledger.accepted_usernames()),
        duplicates=ledger.duplicates(),
        lost=len(lost),
    )

    assert {a.status for a in answers} == {204}
    assert not delivered_while_down
    assert not lost, f"never delivered after the database came back: {sorted(lost)[:5]}"
    assert all(len(codes) == 1 for codes in ledger.codes_by_username().values())
