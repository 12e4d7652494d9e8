"""RabbitMQ goes away under steady intake (through the fault proxy) and comes back."""

from __future__ import annotations

import json

from tests.reliability.chaos import Outage
from tests.reliability.cluster import http_service, running, worker_service
from tests.reliability.conftest import Rig
from tests.reliability.load import Load, otp_request

RATE = 25.0  # OTP requests per second
DURATION = 14.0
OUTAGE_AFTER, OUTAGE_FOR = 4.0, 4.0
RECONNECT_GRACE = 3.0  # after the broker is back, answers from then on must be 204


def test_requests_answered_204_around_a_broker_outage_are_all_delivered_and_the_rest_got_503(
    rig: Rig,
) -> None:
    market = rig.seed(users=int(RATE * DURATION) + 50, prefix="broker")
    env = rig.env(proxied_database=False)
    api = http_service("api", env, workers=2, threads=8)
    worker = worker_service(env, threads=8)
    rig.leak_guard.watch(api, worker)

    with running(api, worker):
        with (
            Load(api.base_url, concurrency=12) as load,
            Outage(rig.broker_proxy, after=OUTAGE_AFTER, lasting=OUTAGE_FOR) as outage,
        ):
            answers = list(
                load.paced(
                    lambda n: (
                        market.usernames[n],
                        otp_request(
                            {"ClientID": market.client_id, "Username": market.usernames[n]}
                        ),
                    ),
                    rate=RATE,
                    duration=DURATION,
                )
            )
        accepted = {answer.key for answer in answers if answer.status == 204}
        rig.receiver.ledger.wait_for(
            lambda ledger: ledger.accepted_usernames() >= accepted, timeout=120
        )

    ledger = rig.receiver.ledger
    rig.leak_guard.saw_codes(ledger.codes())
    during = [a for a in answers if a.started > outage.cut_at and a.finished < outage.restored_at]
    after = [a for a in answers if a.started > outage.restored_at + RECONNECT_GRACE]
    refused = [a for a in answers if a.status == 503]
    lost = accepted - ledger.accepted_usernames()
    rig.figures.record(
        "broker_outage",
        requests=len(answers),
        accepted_204=len(accepted),
        refused_503=len(refused),
        answered_during_outage=len(during),
        delivered=len(accepted & ledger.accepted_usernames()),
        duplicates=ledger.duplicates(),
        lost=len(lost),
        outage_seconds=round(outage.restored_at - outage.cut_at, 1),
        connections_dropped=outage.dropped,
    )

    assert outage.dropped >= 1, "no live broker connection was cut: the test proved nothing"
    assert {a.status for a in answers} <= {204, 503}, sorted({a.status for a in answers})
    assert during, "no request was answered during the outage"
    assert {a.status for a in during} == {503}
    for answer in refused:
        assert answer.headers.get("retry-after")
        assert json.loads(answer.body)["Errors"][0]["ErrorCode"] == "ServiceUnavailable"
    assert after, "no request was sent after the broker came back"
    assert {a.status for a in after} == {204}, "the api did not reconnect by itself"
    assert not lost, f"answered 204 but never delivered: {sorted(lost)[:5]}"
    assert all(len(codes) == 1 for codes in ledger.codes_by_username().values())
