"""Workers SIGKILLed mid-flight: every accepted request is still delivered, with one code."""

from __future__ import annotations

import time

import pytest

from tests.reliability.chaos import WorkerKiller
from tests.reliability.cluster import http_service, running, wait_for, worker_service
from tests.reliability.conftest import Rig
from tests.reliability.load import Load, otp_request
from tests.reliability.observe import delivery_statuses, otps_per_username
from tests.reliability.scale import scaled

# The full suite runs 2,000; CI runs fewer (tests/reliability/scale.py).
REQUESTS = scaled(full=2000, ci=600)
KILL_EVERY_SECONDS = 1.5
BATCHES = 10
SPREAD_SECONDS = 15.0
DELIVERY_TIMEOUT = 240.0


@pytest.mark.timeout(scaled(full=1800, ci=600))
def test_every_request_is_delivered_with_one_code_while_workers_are_sigkilled(
    rig: Rig,
) -> None:
    market = rig.seed(users=REQUESTS, prefix="crash")
    env = rig.env()
    receiver = rig.receiver
    api = http_service("api", env, workers=2, threads=8)
    # Two workers on every queue, killed in turn: one is always up, the other is dying or
    # booting, and a kill lands while both fan-out and delivery messages are in flight.
    workers = [worker_service(env, threads=8), worker_service(env, threads=8)]
    rig.leak_guard.watch(api, *workers)
    wanted = set(market.usernames)
    began = time.monotonic()

    with running(api, *workers):
        with WorkerKiller(workers, every=KILL_EVERY_SECONDS, max_kills=200) as killer:
            answers = []
            with Load(api.base_url, concurrency=16) as load:
                # In batches spread over SPREAD_SECONDS: however fast the host, work keeps
                # flowing through several kills (a burst can be delivered before the third).
                for first in range(0, REQUESTS, REQUESTS // BATCHES):
                    batch = market.usernames[first : first + REQUESTS // BATCHES]
                    answers += load.run(
                        [
                            (name, otp_request({"ClientID": market.client_id, "Username": name}))
                            for name in batch
                        ]
                    )
                    time.sleep(SPREAD_SECONDS / BATCHES)
            # Keep killing while deliveries are still flowing, so crashes hit both stages.
            receiver.ledger.wait_for(
                lambda ledger: len(ledger.accepted_usernames()) >= 0.9 * REQUESTS,
                timeout=DELIVERY_TIMEOUT / 2,
            )
        kills = killer.kills
        receiver.ledger.wait_for(
            lambda ledger: ledger.accepted_usernames() >= wanted, timeout=DELIVERY_TIMEOUT
        )
        wait_for(lambda: delivery_statuses(rig.engine)["delivered"] >= REQUESTS, timeout=60)
    elapsed = time.monotonic() - began

    ledger = receiver.ledger
    rig.leak_guard.saw_codes(ledger.codes())
    delivered = ledger.accepted_usernames() & wanted
    lost = wanted - delivered
    codes = ledger.codes_by_username()
    second_codes = {name: found for name, found in codes.items() if len(found) > 1}
    otp_rows = otps_per_username(rig.engine)
    rig.figures.record(
        "worker_crashes",
        requests=REQUESTS,
        accepted_204=sum(answer.status == 204 for answer in answers),
        delivered=len(delivered),
        duplicates=ledger.duplicates(),
        lost=len(lost),
        second_codes=len(second_codes),
        kills=kills,
        webhook_attempts=len(ledger.snapshot()),
        seconds=round(elapsed, 1),
    )

    assert kills >= 3, "the workers were not killed: the test proved nothing"
    assert {answer.status for answer in answers} == {204}
    assert not lost, f"{len(lost)} accepted requests never delivered, e.g. {sorted(lost)[:5]}"
    assert not second_codes, f"requests that produced a second code: {list(second_codes)[:5]}"
    assert set(otp_rows.values()) == {1}
    assert set(otp_rows) == wanted
    assert all(attempt.signature_valid for attempt in ledger.snapshot())
    for hits in ledger.accepted().values():
        # A duplicate is the same message again: same request, user and code.
        assert len({(hit.request_id, hit.username, hit.code) for hit in hits}) == 1
    assert delivery_statuses(rig.engine) == {"delivered": REQUESTS}
