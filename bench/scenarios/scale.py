"""4. Scale: intake and token grants with 10,000 and with 1,000,000 seeded users.

Two databases seeded identically (the same marketplace, ClientID, shared key and password
hash), one with 10,000 users and one with 1,000,000. This host's CPU capacity drifts 2-3x
within minutes, more than any cost of the data, so the two populations are never measured
minutes apart: one server per population runs throughout a measurement and the load
alternates between them in short passes — 10k, 1M, 10k, 1M, 10k, 1M, 10k. A goal is judged on
the median of paired ratios, each 1M pass against the mean of the 10k passes either side
of it, with the CPU per operation (which the drift moves far less) shown next to it.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import psycopg

from bench import seed
from bench.load import Load, LoadResult
from bench.procstat import Sampler
from bench.report import Figure, Goal, Report, Usage
from bench.scenarios.common import (
    CPU_PER_OPERATION_NOTE,
    LARGE_POPULATION,
    POSTGRESQL,
    SMALL_POPULATION,
    Context,
    Population,
    Work,
    cpu_ms_per_operation,
    seconds,
)
from bench.scenarios.intake import MAX_CONNECTIONS, OTP_PATH
from bench.scenarios.token import grant_load, otps_file, password_pairs

COST_GOAL = 0.15
PASSES = 3  # on the large population, each between two on the small one
PASS_SECONDS = 5.0  # at BENCH_SCALE=1
OTPS_PER_PASS = SMALL_POPULATION  # one per user at 10k; enough for 2,000 grants/s at 1M
# Before each pass, until the servers are idle: the previous pass's in-flight requests
# finish (wrk stops at its deadline with up to 16 password grants of ~50 ms CPU each).
IDLE_CPU_SHARE = 0.05  # of one core, both servers together, over one poll
IDLE_POLL_SECONDS = 0.25
IDLE_TIMEOUT_SECONDS = 10.0


# -- judging -------------------------------------------------------------------------


def paired_ratios(small: Sequence[float | None], large: Sequence[float | None]) -> list[float]:
    """Each large pass's figure over the mean of the small passes either side of it.

    The passes ran small[0], large[0], small[1], large[1], ...: large[i] sits between
    small[i] and small[i + 1] (the last has only small[i] when the sequence ends with it).
    A pass without a figure (``None``) is left out of its pairs.
    """
    ratios = []
    for index, value in enumerate(large):
        around = [x for x in small[index : index + 2] if x is not None]
        if value is not None and around and statistics.fmean(around) > 0:
            ratios.append(value / statistics.fmean(around))
    return ratios


def median_or_none(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def throughput_cost(ratios: Sequence[float]) -> float | None:
    """The share of throughput the large population costs: 1 - the median paired ratio."""
    return 1 - statistics.median(ratios) if ratios else None


def cost_goal_met(cost: float | None, goal: float = COST_GOAL) -> bool | None:
    return None if cost is None else cost <= goal


# -- measuring -----------------------------------------------------------------------


@dataclass
class Pass:
    """One short measured load against one population's server."""

    population: Population
    group: str  # the sampler's group of that server
    result: LoadResult
    usage: Usage
    load: str  # what wrk ran
    waited: float  # seconds before it, until both servers were idle

    @property
    def rate(self) -> float:
        return self.result.success_rate

    def cpu_ms(self, group: str = "") -> float | None:
        """CPU ms per successful operation of this pass's server (or of ``group``)."""
        return cpu_ms_per_operation(Work(self.usage, self.result.successes), [group or self.group])


PassFigure = Callable[[Pass], float | None]


def _rate(one: Pass) -> float | None:
    return one.rate


def _server_cpu(one: Pass) -> float | None:
    return one.cpu_ms()


def _postgresql_cpu(one: Pass) -> float | None:
    return one.cpu_ms(POSTGRESQL)


@dataclass
class Comparison:
    """One measurement's passes on both populations (each list in the order it ran)."""

    name: str  # "OTP requests/s, flat out"
    unit: str
    operation: str  # "OTP request"
    role: str  # "api" | "token"
    small: list[Pass]
    large: list[Pass]

    @property
    def load(self) -> str:
        """The first 10k pass's load (the 1M passes send the same to their server)."""
        return self.small[0].load

    def ratios(self, figure: PassFigure) -> list[float]:
        return paired_ratios([figure(p) for p in self.small], [figure(p) for p in self.large])

    def medians(self, figure: PassFigure) -> tuple[float | None, float | None]:
        return (
            median_or_none([figure(p) for p in self.small]),
            median_or_none([figure(p) for p in self.large]),
        )

    def in_order(self) -> list[Pass]:
        """The passes as they ran: small, large, small, ..., large, small."""
        ordered = list(self.small[:1])
        for large, small in zip(self.large, self.small[1:], strict=True):
            ordered += [large, small]
        return ordered


def _group(role: str, population: Population) -> str:
    """The sampler's name for the ``role`` server of ``population``."""
    return f"{role}, {population.label}"


@dataclass
class Servers:
    """One server per population, both sampled throughout."""

    ctx: Context
    role: str
    urls: dict[str, str]  # by population name
    sampler: Sampler
    groups: tuple[str, str]  # the sampler's names of the two servers

    def _servers_cpu_seconds(self) -> float:
        snapshot = self.sampler.cpu_snapshot()
        return sum(sum(snapshot.get(group, {}).values()) for group in self.groups)

    def wait_idle(self) -> float:
        """Until neither server is still answering an earlier pass; the seconds waited."""
        started = time.monotonic()
        before = self._servers_cpu_seconds()
        while time.monotonic() - started < IDLE_TIMEOUT_SECONDS:
            time.sleep(IDLE_POLL_SECONDS)
            after = self._servers_cpu_seconds()
            if after - before < IDLE_CPU_SHARE * IDLE_POLL_SECONDS:
                break
            before = after
        return time.monotonic() - started

    def measure(self, population: Population, load: Load, label: str) -> Pass:
        waited = self.wait_idle()
        result, usage = self.ctx.measure(load, self.sampler, f"{label}, {population.label}")
        group = _group(self.role, population)
        return Pass(population, group, result, usage, load.describe(), waited)


@contextlib.contextmanager
def _servers(ctx: Context, role: str, small: Population, large: Population) -> Iterator[Servers]:
    start = ctx.api if role == "api" else ctx.token
    with (
        start(population=small) as (small_url, small_server),
        start(population=large) as (large_url, large_server),
    ):
        groups = {_group(role, small): small_server, _group(role, large): large_server}
        with ctx.sampler(**groups) as sampler:
            urls = {small.name: small_url, large.name: large_url}
            yield Servers(ctx, role, urls, sampler, (_group(role, small), _group(role, large)))


def _alternate(
    one_pass: Callable[[Population, int], Pass], small: Population, large: Population
) -> tuple[list[Pass], list[Pass]]:
    """``PASSES`` passes on the large population, each between two on the small one:
    small, large, small, large, ..., large, small; so drift of the host's speed during the
    measurement cancels out of every paired ratio, the last one's included."""
    small_passes: list[Pass] = []
    large_passes: list[Pass] = []
    for index in range(PASSES):
        small_passes.append(one_pass(small, index))
        large_passes.append(one_pass(large, index))
    small_passes.append(one_pass(small, PASSES))
    return small_passes, large_passes


def _intake_load(ctx: Context, url: str, population: Population) -> Load:
    return Load(
        url=url + OTP_PATH,
        kind="otp-request",
        seconds=seconds(PASS_SECONDS),
        connections=MAX_CONNECTIONS,
        client_id=ctx.client_id,
        user_count=population.users,
    )


def compare_intake(ctx: Context, small: Population, large: Population) -> Comparison:
    """OTP requests flat out (no worker runs: the requests are only queued)."""
    with _servers(ctx, "api", small, large) as servers:
        for population in (small, large):
            ctx.warm_up(_intake_load(ctx, servers.urls[population.name], population))

        def one_pass(population: Population, index: int) -> Pass:
            ctx.purge()  # every pass publishes to the same empty queue
            load = _intake_load(ctx, servers.urls[population.name], population)
            return servers.measure(population, load, f"OTP requests flat out, pass {index + 1}")

        small_passes, large_passes = _alternate(one_pass, small, large)
    ctx.purge()
    return Comparison(
        "OTP requests/s, flat out", "req/s", "OTP request", "api", small_passes, large_passes
    )


def _fresh_otps(ctx: Context, population: Population, index: int) -> str:
    """The population's OTP table emptied, then one OTP for each of ``OTPS_PER_PASS`` users
    sampled across it; a pairs file. Every pass starts from the same table."""
    with ctx.stack.connect(population.database_url) as connection:
        connection.execute("DELETE FROM one_time_passwords")
        connection.execute("VACUUM one_time_passwords")
    numbers = seed.sample_users(population.users, OTPS_PER_PASS, seed=index + 1)
    return otps_file(ctx, numbers, f"otps-{population.name}-{index + 1}", population.database_url)


def compare_grants(ctx: Context, small: Population, large: Population) -> list[Comparison]:
    """OTP grants, then password grants, each in alternating passes."""
    passwords = {p.name: password_pairs(ctx, p.users) for p in (small, large)}
    with _servers(ctx, "token", small, large) as servers:
        for population in (small, large):
            url = servers.urls[population.name]
            ctx.warm_up(grant_load(ctx, url, passwords[population.name]))

        def otp_pass(population: Population, index: int) -> Pass:
            pairs = _fresh_otps(ctx, population, index)
            url = servers.urls[population.name]
            load = grant_load(ctx, url, pairs, limit=OTPS_PER_PASS, duration=PASS_SECONDS)
            return servers.measure(population, load, f"OTP grants, pass {index + 1}")

        def password_pass(population: Population, index: int) -> Pass:
            url = servers.urls[population.name]
            load = grant_load(ctx, url, passwords[population.name], duration=PASS_SECONDS)
            return servers.measure(population, load, f"password grants, pass {index + 1}")

        otp = _alternate(otp_pass, small, large)
        password = _alternate(password_pass, small, large)
    return [
        Comparison("OTP grants/s", "grants/s", "OTP grant", "token", *otp),
        Comparison("password grants/s", "grants/s", "password grant", "token", *password),
    ]


# -- the report ----------------------------------------------------------------------


def _figures(comparison: Comparison) -> list[Figure]:
    name = comparison.name
    figures = []
    for label, unit, figure in (
        (name, comparison.unit, _rate),
        (f"{comparison.role} CPU per {comparison.operation}", "ms", _server_cpu),
        (f"PostgreSQL CPU per {comparison.operation}", "ms", _postgresql_cpu),
    ):
        small, large = comparison.medians(figure)
        figures += [
            Figure(f"{label} — 10k users (median of {len(comparison.small)} passes)", small, unit),
            Figure(
                f"{label} — 1M users (median of {len(comparison.large)} passes)",
                large,
                unit,
                small,
                "10k",
            ),
        ]
    figures.append(
        Figure(
            f"{name}: paired ratio 1M ÷ 10k (median of {len(comparison.ratios(_rate))})",
            median_or_none(comparison.ratios(_rate)),
            "x",
        )
    )
    return figures


def _times(value: float | None) -> str:
    return f"x{value:.2f}" if value is not None else "—"


def _goal(comparison: Comparison, *, control: bool = False) -> Goal:
    ratios = comparison.ratios(_rate)
    cost = throughput_cost(ratios)
    small, large = comparison.medians(_rate)
    server_cpu = median_or_none(comparison.ratios(_server_cpu))
    postgresql_cpu = median_or_none(comparison.ratios(_postgresql_cpu))
    if cost is None or small is None or large is None:
        measured = "no pass answered"
    else:
        measured = (
            ("control (the endpoint reads no user): " if control else "")
            + f"1M ÷ 10k paired: {' / '.join(f'{r:.2f}' for r in ratios)}, median "
            f"{1 - cost:.2f} = {cost:+.0%} cost (medians {small:,.0f} → {large:,.0f} "
            f"{comparison.unit}); CPU per {comparison.operation} 1M ÷ 10k paired median: "
            f"{comparison.role} {_times(server_cpu)}, PostgreSQL {_times(postgresql_cpu)}"
        )
    return Goal(
        f"1,000,000 users cost ≤ 15% {comparison.name} against 10,000",
        cost_goal_met(cost),
        measured,
    )


def _number(value: float | None, digits: int) -> str:
    return f"{value:,.{digits}f}" if value is not None else "—"


def _passes_note(comparison: Comparison) -> str:
    passes = list(zip(itertools.cycle(("10k", "1M")), comparison.in_order(), strict=False))
    rates = ", ".join(f"{side} {p.rate:,.0f}" for side, p in passes)
    cpu = ", ".join(f"{side} {_number(p.cpu_ms(), 2)}" for side, p in passes)
    postgresql = ", ".join(f"{side} {_number(p.cpu_ms(POSTGRESQL), 2)}" for side, p in passes)
    failed = {
        side: sum(p.result.failed for p in group)
        for side, group in (("10k", comparison.small), ("1M", comparison.large))
    }
    return (
        f"{comparison.name}, passes in the order they ran: {rates} {comparison.unit}; "
        f"{comparison.role} CPU ms per {comparison.operation}: {cpu}; PostgreSQL: "
        f"{postgresql}. Non-2xx answers and socket errors: 10k {failed['10k']}, "
        f"1M {failed['1M']}. Waits for idle servers before the passes: "
        f"{', '.join(f'{p.waited:.1f}' for _, p in passes)} s."
    )


def _checkpoint(ctx: Context) -> None:
    """Write out the pages just seeded now, not in a checkpoint during the passes (when the
    bench's database role may do so)."""
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege), ctx.stack.connect() as db:
        db.execute("CHECKPOINT")


def run_scale(ctx: Context, command: str) -> Report:
    report = Report("scale", "Scale: 10,000 vs 1,000,000 seeded users", command)
    small = ctx.seed_population("10k", SMALL_POPULATION)
    large = ctx.seed_population("1m", LARGE_POPULATION)
    _checkpoint(ctx)
    comparisons = [compare_intake(ctx, small, large), *compare_grants(ctx, small, large)]
    report.setup += [
        f"Two databases seeded identically (one marketplace: the same ClientID, webhook "
        f"sender, shared key and argon2id hash), one with {small.users:,} users (seeded in "
        f"{small.seed_seconds:.1f} s) and one with {large.users:,} (COPY, indexes dropped "
        f"and rebuilt, VACUUM ANALYZE: {large.seed_seconds:.0f} s), then a CHECKPOINT.",
        "One server per population (`otp api` for intake, `otp token` for grants; 2 workers "
        "x 8 threads each), both running throughout a measurement; the load alternates "
        f"between them in passes of {seconds(PASS_SECONDS):.0f} s: "
        + ", ".join(["10k, 1M"] * PASSES)
        + ", 10k"
        + ". Each server was warmed up before its first pass; each pass starts once both "
        "servers are idle (the previous pass's in-flight requests answered).",
        "OTP grants: before each pass the population's one_time_passwords table is emptied "
        f"and one fresh OTP seeded for each of {OTPS_PER_PASS:,} users sampled across it "
        "(all 10,000 users at 10k; spread over the whole table at 1M, so lookups touch "
        "index pages all over it). Password grants: 5,000 users sampled the same way.",
        *(f"load ({c.name}): {c.load}" for c in comparisons),
    ]
    for comparison in comparisons:
        report.figures += _figures(comparison)
        report.goals.append(_goal(comparison, control=comparison.role == "api"))
        report.usage += [comparison.small[-1].usage, comparison.large[-1].usage]
    report.notes += [
        "Each goal is judged on the median of paired throughput ratios: every 1M pass "
        "against the mean of the 10k passes either side of it. Passes seconds apart see the "
        "same host, so the host's drift (2-3x within minutes here) cancels in each pair and "
        "the median drops an odd pass.",
        "The OTP request endpoint reads no user (the worker does the matching), so the "
        "intake comparison is the control: how far its ratio strays from 1.00 is what this "
        "machine's noise alone does to a paired ratio.",
        CPU_PER_OPERATION_NOTE,
        *(_passes_note(c) for c in comparisons),
        "CPU and memory tables: the last pass of each population for each measurement.",
    ]
    return report
