"""5. Memory: peak RSS (and PSS) of the api, token and worker processes under load.

All three run at once, as co-located in production on a 2-core box: wrk sends OTP
requests to the api while the worker fans them out and delivers them, and a second wrk
sends OTP grants to the token server. Each group's memory is sampled every 250 ms.

Two layouts are measured. **Co-located**: one serving process per role (each gunicorn
worker with its threads, one dramatiq worker process), each beside its parent — on two
cores shared by three roles and the two servers underneath, more processes add memory,
not throughput. **As benchmarked alone**: two processes per role, the layout the intake,
token and end-to-end benchmarks give a role that has the box to itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.load import Load, LoadResult
from bench.report import Figure, Goal, Report, Usage
from bench.scenarios.common import SERVER_THREADS, WORKER_THREADS, Context, seconds
from bench.scenarios.intake import OTP_PATH
from bench.scenarios.token import CONNECTIONS, TOKEN_PATH, fresh_otps

RSS_GOAL_MIB = 400e6 / 2**20  # 400 MB, the stricter reading (≈ 381 MiB)
GROUPS = ("api", "token", "worker")


@dataclass
class Layout:
    name: str
    processes: int  # serving processes per role, each beside its parent

    def describe(self) -> str:
        return (
            f"{self.name}: `otp api` and `otp token` with {self.processes} gunicorn "
            f"worker(s) x {SERVER_THREADS} threads each (plus the master), `otp worker "
            f"--processes {self.processes} --threads {WORKER_THREADS}` (plus its parent)"
        )


LAYOUTS = (Layout("co-located", 1), Layout("as benchmarked alone", 2))


@dataclass
class MemoryRun:
    layout: Layout
    usage: Usage
    intake: LoadResult
    grants: LoadResult

    def total(self, attribute: str) -> float:
        groups = self.usage.groups
        return float(sum(getattr(groups[name], attribute) for name in GROUPS))

    @property
    def process_count(self) -> int:
        return sum(self.usage.groups[name].processes for name in GROUPS)


def _measure(ctx: Context, layout: Layout) -> tuple[MemoryRun, list[str]]:
    otp_file = fresh_otps(ctx)
    ctx.purge()
    duration = seconds(20)
    count = layout.processes
    with (
        ctx.api(workers=count) as (api_url, api),
        ctx.token(workers=count) as (token_url, token),
        ctx.worker(processes=count) as worker,
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
            f"{layout.name}, api, token and worker under load together",
            window.seconds,
            sampler.usage(window.cpu),
        )
    ctx.purge()
    loads = [intake.describe(), grants.describe()]
    return MemoryRun(layout, usage, intake_result, grants_result), loads


def run_memory(ctx: Context, command: str) -> Report:
    report = Report("memory", "Memory: api + token + worker under load", command)
    runs: list[MemoryRun] = []
    loads: list[str] = []
    for layout in LAYOUTS:
        run, loads = _measure(ctx, layout)
        runs.append(run)
    report.setup += [layout.describe() + "." for layout in LAYOUTS]
    report.setup += [
        f"load, the same for both: {loads[0]} while the worker drains; at the same time "
        f"{loads[1]} (OTP grants).",
        "RSS counts shared pages once per process (forked workers share the parent's code "
        "pages), so the RSS sum overstates what the group holds; PSS splits shared pages "
        "between their sharers and adds up correctly. The goal (one serving process per "
        "role; the second layout is shown beside it for scale) is judged on RSS, the "
        "stricter of the two.",
    ]
    for run in runs:
        name = run.layout.name
        groups = run.usage.groups
        report.figures += [
            Figure(f"{role} peak RSS ({name})", groups[role].peak_rss_mib, "MiB") for role in GROUPS
        ]
        rss, pss = run.total("peak_rss_mib"), run.total("peak_pss_mib")
        report.figures += [
            Figure(f"api + token + worker peak RSS ({name})", rss, "MiB", RSS_GOAL_MIB, "goal"),
            Figure(f"api + token + worker peak PSS ({name})", pss, "MiB", RSS_GOAL_MIB, "goal"),
            Figure(f"OTP requests/s during the run ({name})", run.intake.rate, "req/s"),
            Figure(f"OTP grants/s during the run ({name})", run.grants.rate, "grants/s"),
        ]
        if run.layout.processes == 1:  # the goal is for one serving process per role
            report.goals.append(
                Goal(
                    f"api + token + worker, one process per role, ≤ 400 MB RSS ({name})",
                    rss <= RSS_GOAL_MIB,
                    f"{rss:,.0f} MiB RSS ({pss:,.0f} MiB PSS) over {run.process_count} processes",
                )
            )
        report.usage.append(run.usage)
        report.notes.append(
            f"Errors ({name}): intake {run.intake.errors}, grants {run.grants.errors} (grants "
            "stop succeeding once their seeded OTPs are used up; memory is what is measured)."
        )
    return report
