"""4. Scale: intake and token grants with 10,000 and with 1,000,000 seeded users.

The same measurements as benchmarks 1 and 3, first on 10,000 users (reused when those
benchmarks ran earlier in the same invocation), then after growing the users table to
1,000,000 rows. Each figure is also set against the no-op ceiling measured next to it,
so the comparison survives a machine whose load changes between the two.
"""

from __future__ import annotations

from bench.report import Figure, Goal, Report
from bench.scenarios.common import LARGE_POPULATION, SMALL_POPULATION, Context
from bench.scenarios.intake import IntakeRun, intake_figures, measure_intake
from bench.scenarios.token import TokenRun, measure_token, token_figures

COST_GOAL = 0.15


def _cost(small: float, large: float) -> float:
    return 1 - large / small if small else 0.0


def run_scale(ctx: Context, command: str) -> Report:
    report = Report("scale", "Scale: 10,000 vs 1,000,000 seeded users", command)
    if ctx.users != SMALL_POPULATION:
        raise SystemExit("bench scale: must start from the 10,000-user database")
    small_intake: IntakeRun = ctx.results.get("intake") or measure_intake(ctx)
    small_token: TokenRun = ctx.results.get("token") or measure_token(ctx)
    took = ctx.grow_users(LARGE_POPULATION)
    large_intake = measure_intake(ctx)
    large_token = measure_token(ctx)
    report.setup += [
        f"Seeding {LARGE_POPULATION - SMALL_POPULATION:,} more users (COPY, indexes dropped "
        f"and rebuilt, ANALYZE) took {took:.0f} s.",
        "The 10,000-user figures come from the intake and token benchmarks of the same "
        "invocation when they ran first, otherwise they are measured here.",
        "OTP grants at 1,000,000 users use OTPs of 20,000 users sampled across the whole "
        "table, so lookups touch index pages all over it.",
    ]
    report.figures += intake_figures(small_intake, " — 10k users")
    report.figures += intake_figures(large_intake, " — 1M users")
    report.figures += token_figures(small_token, " — 10k users")
    report.figures += token_figures(large_token, " — 1M users")
    comparisons = [
        (
            "OTP requests/s",
            small_intake.otp_max.rate,
            large_intake.otp_max.rate,
            small_intake.ratio,
            large_intake.ratio,
        ),
        (
            "OTP grants/s",
            small_token.otp_rate,
            large_token.otp_rate,
            small_token.otp_rate / small_token.noop.rate,
            large_token.otp_rate / large_token.noop.rate,
        ),
        (
            "password grants/s",
            small_token.password_rate,
            large_token.password_rate,
            small_token.password_rate / small_token.noop.rate,
            large_token.password_rate / large_token.noop.rate,
        ),
    ]
    for name, small, large, small_ratio, large_ratio in comparisons:
        raw = _cost(small, large)
        normalised = _cost(small_ratio, large_ratio)
        report.figures.append(
            Figure(f"{name} at 1M ÷ at 10k", large / small if small else None, "x")
        )
        report.goals.append(
            Goal(
                f"1,000,000 users cost ≤ 15% {name} against 10,000",
                normalised <= COST_GOAL,
                f"{small:,.0f} → {large:,.0f} ({raw:+.0%} cost raw; {normalised:+.0%} "
                "against each run's own no-op ceiling)",
            )
        )
    report.usage += large_intake.usage + large_token.usage
    report.notes += [
        "A goal is judged on the cost relative to the no-op ceiling measured beside each "
        "figure (the ceiling absorbs changes in the machine's load between the two runs); "
        "the raw cost is shown next to it.",
        "The OTP request endpoint reads no user (the worker does the matching), so its "
        "difference between the two populations is a control: it shows how much this "
        "machine's noise alone moves a figure between two runs.",
    ]
    return report
