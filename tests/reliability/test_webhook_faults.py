"""A flaky subscriber gets everything before expiry; a dead one ends in ``expired``, quietly."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from core.messaging.routes import DELIVER_WEBHOOK
from tests.reliability.cluster import http_service, running, wait_for, worker_service
from tests.reliability.conftest import Rig
from tests.reliability.faults import FaultProxy
from tests.reliability.leaks import queue_depths
from tests.reliability.load import Load, otp_request
from tests.reliability.observe import delivery_attempts, delivery_statuses
from tests.reliability.receiver import random_failures

WEBHOOK_QUEUE = DELIVER_WEBHOOK.queue_name

FLAKY_REQUESTS = 60
DEAD_REQUESTS = 10
SHORTEST_LIFETIME = 30  # OTP_LIFETIME's minimum (core.platform.settings)
QUIET_WINDOW = 5.0


def test_a_subscriber_failing_half_the_time_receives_every_message_before_it_expires(
    rig: Rig,
) -> None:
    market = rig.seed(users=FLAKY_REQUESTS, prefix="flaky")
    rig.receiver.policy = random_failures(0.5, seed=2026)
    env = rig.env(proxied_database=False, proxied_broker=False)
    api = http_service("api", env)
    worker = worker_service(env, threads=8)
    rig.leak_guard.watch(api, worker)
    wanted = set(market.usernames)

    with running(api, worker), Load(api.base_url, concurrency=8) as load:
        answers = load.run(
            [
                (name, otp_request({"ClientID": market.client_id, "Username": name}))
                for name in market.usernames
            ]
        )
        rig.receiver.ledger.wait_for(
            lambda ledger: ledger.accepted_usernames() >= wanted, timeout=240
        )
        wait_for(lambda: delivery_statuses(rig.engine)["delivered"] >= FLAKY_REQUESTS, 30)

    ledger = rig.receiver.ledger
    rig.leak_guard.saw_codes(ledger.codes())
    attempts = ledger.snapshot()
    lost = wanted - ledger.accepted_usernames()
    late = [
        hit
        for hits in ledger.accepted().values()
        for hit in hits[:1]
        if hit.received_wall >= datetime.fromisoformat(hit.expires_at).timestamp()
    ]
    rig.figures.record(
        "webhook_flaky",
        requests=len(answers),
        delivered=len(wanted & ledger.accepted_usernames()),
        duplicates=ledger.duplicates(),
        lost=len(lost),
        attempts=len(attempts),
        answered_500=sum(a.status == 500 for a in attempts),
        late=len(late),
    )

    assert {a.status for a in answers} == {204}
    assert sum(a.status == 500 for a in attempts) >= FLAKY_REQUESTS // 4, "too few faults"
    assert not lost
    assert not late
    assert delivery_statuses(rig.engine) == {"delivered": FLAKY_REQUESTS}


@pytest.mark.timeout(SHORTEST_LIFETIME + 300)
def test_a_subscriber_down_past_the_otp_lifetime_ends_in_expired_with_no_retries_after(
    rig: Rig,
) -> None:
    env = rig.env(proxied_database=False, proxied_broker=False, OTP_LIFETIME=str(SHORTEST_LIFETIME))
    api = http_service("api", env)
    worker = worker_service(env, threads=4)
    rig.leak_guard.watch(api, worker)
    # The subscriber sits behind a proxy that is cut: every connection is refused.
    with FaultProxy("127.0.0.1", rig.receiver.port) as door:
        market = rig.seed(
            users=DEAD_REQUESTS,
            prefix="dead",
            webhook_url=f"http://127.0.0.1:{door.port}/hooks/{{messagetype}}",
        )
        door.cut()
        with running(api, worker), Load(api.base_url, concurrency=4) as load:
            answers = load.run(
                [
                    (name, otp_request({"ClientID": market.client_id, "Username": name}))
                    for name in market.usernames
                ]
            )
            # Polls the rows' outcome; the OTPs expire on their own (real) clock.
            wait_for(
                lambda: delivery_statuses(rig.engine)["expired"] >= DEAD_REQUESTS,
                timeout=SHORTEST_LIFETIME + 120,
            )
            statuses_at_expiry = delivery_statuses(rig.engine)
            door.restore()
            # A window in which any retry still scheduled would reach the (now open) door.
            time.sleep(QUIET_WINDOW)
            arrived_after_expiry = rig.receiver.ledger.snapshot()
        # With the worker gone, its unacknowledged messages are back in the queues.
        depths = queue_depths(rig.broker_url, [WEBHOOK_QUEUE, f"{WEBHOOK_QUEUE}.DQ"])

    attempts = delivery_attempts(rig.engine)
    rig.figures.record(
        "webhook_dead",
        requests=len(answers),
        expired=statuses_at_expiry["expired"],
        delivered=statuses_at_expiry["delivered"],
        attempts_total=sum(attempts),
        attempts_max=max(attempts, default=0),
        arrived_after_expiry=len(arrived_after_expiry),
        left_in_queues=sum(depths.values()),
        lifetime_seconds=SHORTEST_LIFETIME,
    )

    assert {a.status for a in answers} == {204}
    assert statuses_at_expiry == {"expired": DEAD_REQUESTS}
    assert all(count >= 1 for count in attempts), "some deliveries were never attempted"
    assert max(attempts) <= 20, f"a retry storm: {max(attempts)} attempts in {SHORTEST_LIFETIME}s"
    assert arrived_after_expiry == []
    assert depths == {WEBHOOK_QUEUE: 0, f"{WEBHOOK_QUEUE}.DQ": 0}
    assert delivery_statuses(rig.engine) == {"expired": DEAD_REQUESTS}
