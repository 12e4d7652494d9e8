"""The OTP request's answer says nothing about who has an account."""

from __future__ import annotations

import statistics
from collections import defaultdict

from tests.reliability.cluster import http_service, running
from tests.reliability.conftest import Rig
from tests.reliability.load import Answer, Load, otp_request
from tests.reliability.scale import scaled

# The full suite runs 1,000 a case. Medians are recorded, never asserted: tests do not time.
REPEATS = scaled(full=1000, ci=200)


def test_unknown_single_and_multi_user_requests_get_identical_answers(rig: Rig) -> None:
    market = rig.seed(users=1, prefix="enum", shared_email_users=3)
    cases = {
        "unknown": {"ClientID": market.client_id, "Username": "nobody-by-that-name"},
        "single": {"ClientID": market.client_id, "Username": market.usernames[0]},
        "multi": {"ClientID": market.client_id, "Email": market.shared_email},
    }
    # No worker: only the api's answer is under test, and nothing needs delivering.
    api = http_service("api", rig.env(proxied_database=False, proxied_broker=False))
    rig.leak_guard.watch(api)

    answers: dict[str, list[Answer]] = defaultdict(list)
    with running(api), Load(api.base_url, concurrency=1) as load:
        for n in range(REPEATS):
            # Interleaved, so drift in the machine's load hits every case alike.
            for case, body in cases.items():
                answers[case].append(load.call(f"{case}{n}", otp_request(body)))

    # Headers whose value changes from one request to the next (Date, the correlation
    # id) are compared by length only; every other header, the status and the body must
    # be byte-for-byte the same everywhere.
    varying = {
        name
        for case_answers in answers.values()
        for name in case_answers[0].headers
        if len({a.headers.get(name) for a in case_answers}) > 1
    }

    def shape(answer: Answer) -> tuple[int, tuple[str, ...], tuple[tuple[str, str], ...], bytes]:
        names = tuple(sorted(answer.headers))
        fixed = tuple(
            sorted(
                (k, v if k not in varying else f"<{len(v)} chars>")
                for k, v in answer.headers.items()
            )
        )
        return answer.status, names, fixed, answer.body

    shapes = {
        case: {shape(answer) for answer in case_answers} for case, case_answers in answers.items()
    }
    medians = {
        case: statistics.median(a.elapsed for a in case_answers) * 1000
        for case, case_answers in answers.items()
    }
    rig.figures.record(
        "enumeration",
        requests_per_case=REPEATS,
        median_ms={case: round(value, 3) for case, value in medians.items()},
        median_spread_ms=round(max(medians.values()) - min(medians.values()), 3),
        varying_headers=sorted(varying),
    )

    assert varying <= {"date", "x-request-id"}, varying
    assert all(len(found) == 1 for found in shapes.values()), shapes
    assert shapes["unknown"] == shapes["single"] == shapes["multi"]
    status, _names, _headers, body = next(iter(shapes["unknown"]))
    assert (status, body) == (204, b"")
