"""5. Memory: peak RSS (and PSS) of the api, token and worker processes under load.

All three run at once, as co-located in production on a 2-core box: wrk sends OTP
requests to the api while the worker fans them out and delivers them, and a second wrk
sends OTP grants to the token server. Each group's memory is sampled every 250 ms.
"""

from __future__ import annotations

from bench.load import Load
from bench.report import Figure, Goal, Report, Usage
from bench.scenarios.common import Context, seconds
from bench.scenarios.intake import OTP_PATH
from bench.scenarios.token import CONNECTIONS, TOKEN_PATH, fresh_otps

RSS_GOAL_MIB = 400e6 / 2**20  # 400 MB, the stricter reading (≈ 381 MiB)
GROUPS = ("api", "token", "worker")


def run_memory(ctx: Context, command: str) -> Report:
    report = Report("memory", "Memory: api + token + worker under load", command)
    otp_file = fresh_otps(ctx)
    ctx.purge()
    duration = seconds(20)
    with (
        ctx.api() as (api_url, api),
        ctx.token() as (token_url, token),
        ctx.worker() as worker,
        ctx.sampler(api=api, token=token, worker=worker) as sampler,
    ):
        # The requests go to the upper half of the population: the e2e benchmark's users
        # have OTPs issued already, and the per-user throttle must not drop these.
        intake = Load(
            url=api_url + OTP_PATH,
            kind="otp-request",
            seconds=duration,
            connections=32,
            rate=300,
            client_id=ctx.client_id,
            user_start=ctx.users // 2 + 1,
            user_count=ctx.users // 2,
        )
        grants = Load(
            url=token_url + TOKEN_PATH,
            kind="grant-pairs",
            seconds=duration,
            connections=CONNECTIONS,
            client_id=ctx.client_id,
            pairs_file=otp_file,
        )
        sampler.reset_peaks()
        with sampler.window() as window:
            first, second = intake.start(), grants.start()
            intake_result, grants_result = intake.result(first), grants.result(second)
        sampler.sample()
        usage = Usage(
            "api, token and worker under load together", window.seconds, sampler.usage(window.cpu)
        )
    ctx.purge()
    groups = usage.groups
    rss = sum(groups[name].peak_rss_mib for name in GROUPS)
    pss = sum(groups[name].peak_pss_mib for name in GROUPS)
    ctx.results["memory"] = (rss, pss)
    report.setup += [
        "`otp api` and `otp token` (2 gunicorn workers x 8 threads each, plus the master), "
        "`otp worker --processes 2 --threads 8` (plus its parent), all at once.",
        f"load: {intake.describe()} while the worker drains; at the same time "
        f"{grants.describe()} (OTP grants).",
        "RSS counts shared pages once per process (forked workers share the parent's code "
        "pages), so the RSS sum overstates what the group holds; PSS splits shared pages "
        "between their sharers and adds up correctly. The goal is judged on RSS, the "
        "stricter of the two.",
    ]
    report.figures += [
        Figure(f"{name} peak RSS", groups[name].peak_rss_mib, "MiB") for name in GROUPS
    ]
    report.figures += [
        Figure("api + token + worker peak RSS", rss, "MiB", RSS_GOAL_MIB, "goal"),
        Figure("api + token + worker peak PSS", pss, "MiB", RSS_GOAL_MIB, "goal"),
        Figure("OTP requests/s during the run", intake_result.rate, "req/s"),
        Figure("OTP grants/s during the run", grants_result.rate, "grants/s"),
    ]
    report.goals.append(
        Goal(
            "api + token + worker together ≤ 400 MB RSS",
            rss <= RSS_GOAL_MIB,
            f"{rss:,.0f} MiB RSS ({pss:,.0f} MiB PSS) over "
            f"{sum(groups[name].processes for name in GROUPS)} processes",
        )
    )
    report.usage.append(usage)
    report.notes.append(
        f"Errors: intake {intake_result.errors}, grants {grants_result.errors} (grants stop "
        "succeeding once the seeded OTPs are used up; memory is what is measured here)."
    )
    return report
