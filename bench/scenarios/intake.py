"""1. Intake: OTP requests/s and latency beside a no-op JSON POST in the same server setup."""

from __future__ import annotations

from dataclasses import dataclass

from bench.load import Load, LoadResult
from bench.profile import profile_under_load
from bench.report import Figure, Goal, Report, Usage
from bench.scenarios.common import (
    CPU_PER_OPERATION_NOTE,
    Context,
    Work,
    cpu_bound_figures,
    cpu_per_operation_figures,
    latency_figures,
    seconds,
)
from core.messaging.routes import REQUESTS_QUEUE

OTP_PATH = "/v1/password/onetimepassword"
NOOP_PATH = "/bench/noop"
# The bench app's route that parses the body and makes the same confirmed, persistent
# publish the OTP route makes, with nothing else: how much of the gap to the no-op is the
# publish itself.
PUBLISH_PATH = "/bench/pipeline"
PACED_RATE = 1000.0
MAX_CONNECTIONS = 32
PACED_CONNECTIONS = 64
RATIO_GOAL = 0.60
P99_GOAL_MS = 25.0


@dataclass
class IntakeRun:
    users: int
    otp_max: LoadResult
    otp_paced: LoadResult
    noop_max: LoadResult
    noop_paced: LoadResult
    otp_max_usage: Usage
    otp_paced_usage: Usage
    noop_max_usage: Usage
    noop_paced_usage: Usage
    publish_max: LoadResult
    publish_max_usage: Usage
    queued: int
    loads: list[str]

    @property
    def ratio(self) -> float:
        return self.otp_max.rate / self.noop_max.rate if self.noop_max.rate else 0.0

    @property
    def usage(self) -> list[Usage]:
        return [
            self.otp_max_usage,
            self.otp_paced_usage,
            self.noop_max_usage,
            self.noop_paced_usage,
            self.publish_max_usage,
        ]


def _otp_load(ctx: Context, url: str, *, rate: float = 0.0) -> Load:
    return Load(
        url=url + OTP_PATH,
        kind="otp-request",
        seconds=seconds(10),
        connections=PACED_CONNECTIONS if rate else MAX_CONNECTIONS,
        rate=rate,
        client_id=ctx.client_id,
        user_count=ctx.users,
    )


def _noop_load(ctx: Context, url: str, *, rate: float = 0.0, path: str = NOOP_PATH) -> Load:
    load = _otp_load(ctx, url, rate=rate)
    load.url = url + path
    return load


def measure_intake(ctx: Context) -> IntakeRun:
    """The OTP route and the no-op route, each flat out and paced at 1,000 requests/s; the
    publish-only route flat out."""
    loads: list[str] = []
    ctx.purge()
    with ctx.api() as (url, api), ctx.sampler(api=api) as sampler:
        load = _otp_load(ctx, url)
        ctx.warm_up(load)
        ctx.purge()
        otp_max, otp_max_usage = ctx.measure(
            load, sampler, f"OTP requests flat out, {ctx.users:,} users"
        )
        loads.append(load.describe())
        queued = ctx.stack.queue_state(REQUESTS_QUEUE)[0]
        load = _otp_load(ctx, url, rate=PACED_RATE)
        otp_paced, otp_paced_usage = ctx.measure(load, sampler, "OTP requests paced at 1,000/s")
        loads.append(load.describe())
    ctx.purge()
    with ctx.api(ceiling=True) as (url, api), ctx.sampler(api=api) as sampler:
        load = _noop_load(ctx, url)
        ctx.warm_up(load)
        noop_max, noop_max_usage = ctx.measure(load, sampler, "no-op JSON POST flat out")
        loads.append(load.describe())
        load = _noop_load(ctx, url, rate=PACED_RATE)
        noop_paced, noop_paced_usage = ctx.measure(
            load, sampler, "no-op JSON POST paced at 1,000/s"
        )
        loads.append(load.describe())
        load = _noop_load(ctx, url, path=PUBLISH_PATH)
        ctx.warm_up(load)
        ctx.purge()
        publish_max, publish_max_usage = ctx.measure(
            load, sampler, "confirmed-publish JSON POST flat out"
        )
        loads.append(load.describe())
    ctx.purge()
    return IntakeRun(
        ctx.users,
        otp_max,
        otp_paced,
        noop_max,
        noop_paced,
        otp_max_usage,
        otp_paced_usage,
        noop_max_usage,
        noop_paced_usage,
        publish_max,
        publish_max_usage,
        queued,
        loads,
    )


def intake_figures(run: IntakeRun) -> list[Figure]:
    flat_out = (
        Work(run.otp_max_usage, run.otp_max.successes),
        Work(run.noop_max_usage, run.noop_max.successes),
        "no-op JSON POST, flat out",
    )
    return [
        Figure(
            "OTP requests/s, flat out",
            run.otp_max.rate,
            "req/s",
            run.noop_max.rate,
            "no-op JSON POST, flat out",
        ),
        *latency_figures("OTP {percentile} latency, flat out", run.otp_max, run.noop_max),
        Figure(
            "OTP requests/s achieved when paced at 1,000/s",
            run.otp_paced.rate,
            "req/s",
            run.noop_paced.rate,
            "no-op paced",
        ),
        *latency_figures("OTP {percentile} latency at 1,000/s", run.otp_paced, run.noop_paced),
        *cpu_per_operation_figures("OTP request (204), flat out", "api", *flat_out),
        *cpu_bound_figures("OTP request", "req/s", *flat_out),
        Figure(
            "OTP requests/s, flat out, beside a route that only publishes",
            run.otp_max.rate,
            "req/s",
            run.publish_max.rate,
            "confirmed-publish JSON POST, flat out",
        ),
        *cpu_bound_figures(
            "OTP request",
            "req/s",
            flat_out[0],
            Work(run.publish_max_usage, run.publish_max.successes),
            "confirmed-publish JSON POST, flat out",
            suffix=", beside a route that only publishes",
        ),
        *cpu_per_operation_figures(
            "OTP request (204) at 1,000/s",
            "api",
            Work(run.otp_paced_usage, run.otp_paced.successes),
            Work(run.noop_paced_usage, run.noop_paced.successes),
            "no-op paced",
        ),
    ]


def intake_goals(run: IntakeRun) -> list[Goal]:
    paced_ok = run.otp_paced.rate >= 0.95 * PACED_RATE
    p99 = run.otp_paced.latency_ms["p99"]
    return [
        Goal(
            "Intake ≥ 60% of the no-op ceiling",
            run.ratio >= RATIO_GOAL if run.otp_max.failed == 0 else False,
            f"{run.otp_max.rate:,.0f} / {run.noop_max.rate:,.0f} req/s = {run.ratio:.0%}",
        ),
        Goal(
            "Intake p99 ≤ 25 ms at 1,000 requests/s",
            paced_ok and p99 <= P99_GOAL_MS and run.otp_paced.failed == 0,
            f"p99 {p99:.1f} ms at {run.otp_paced.rate:,.0f} req/s achieved",
        ),
    ]


def run_intake(ctx: Context, command: str) -> Report:
    report = Report("intake", "Intake: POST /v1/password/onetimepassword", command)
    run = measure_intake(ctx)
    report.setup += [
        f"{run.users:,} seeded users; one API client, one webhook sender (cached by the api).",
        "`otp api` (gunicorn gthread, 2 workers x 8 threads) for the product; the no-op "
        "route is served by `python -m bench.apps api`, the same factory and gunicorn options.",
        f"A second ceiling, `POST {PUBLISH_PATH}` on the same bench app: it parses the JSON "
        "body and makes the confirmed, persistent publish the OTP route makes (same broker, "
        "one pipelined confirmed connection per process) and nothing else, so the OTP "
        "route's distance from it is the cost of its own validation, event and logging.",
        "No worker runs: requests are only queued; queues are purged between runs.",
        *(f"load: {line}" for line in run.loads),
    ]
    report.figures += intake_figures(run)
    report.goals += intake_goals(run)
    report.usage += run.usage
    accepted = run.otp_max.requests - run.otp_max.errors["status"]
    report.notes += [
        f"Each 204 is backed by a confirmed persistent publish: after the flat-out run "
        f"{REQUESTS_QUEUE} held {run.queued:,} messages for {accepted:,} answered 204s "
        "(wrk stops counting at the deadline while the last requests are in flight).",
        f"Non-2xx answers / socket errors: OTP flat out {run.otp_max.errors}, "
        f"paced {run.otp_paced.errors}.",
        "Paced runs schedule requests on an absolute clock across 64 connections (wrk + "
        "Lua delay()); latency is measured from the request's write to its answer.",
        CPU_PER_OPERATION_NOTE,
    ]
    if any(goal.met is False for goal in report.goals):
        with ctx.api() as (url, api):
            ctx.warm_up(_otp_load(ctx, url))
            report.profile = profile_under_load(api, _otp_load(ctx, url), "otp api, flat out")
    ctx.purge()
    return report
