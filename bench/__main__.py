"""``python -m bench [intake|e2e|token|scale|memory|lists|levers ...]``: run benchmarks.

With no names every benchmark runs (scale last: it seeds and drops two databases of its
own, one of 1,000,000 users). Reports go to
``bench/results/<name>.md``. ``BENCH_SCALE=0.3`` shortens every measurement for a quick
look (the reports say so); ``OTP_BENCH_DATABASE_URL`` / ``OTP_BENCH_BROKER_URL`` (else
``OTP_TEST_*``, else the local defaults) name the servers; each run makes its own
database(s) and vhost, named after its process id, and drops them when it ends.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable

from bench.load import ensure_wrk
from bench.report import Report
from bench.scenarios.common import Context
from bench.scenarios.e2e import run_e2e
from bench.scenarios.intake import run_intake
from bench.scenarios.levers import run_levers
from bench.scenarios.lists import run_lists
from bench.scenarios.memory import run_memory
from bench.scenarios.receiver import measure_receiver
from bench.scenarios.scale import run_scale
from bench.scenarios.token import run_token

Scenario = Callable[[Context, str], Report]
ORDER: dict[str, Scenario] = {
    "intake": run_intake,
    "token": run_token,
    "e2e": run_e2e,
    "memory": run_memory,
    "scale": run_scale,
    "lists": run_lists,
    "levers": run_levers,
}
LOAD_DRIVEN = frozenset(ORDER) - {"lists", "levers"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*ORDER, []], metavar="NAME")
    args = parser.parse_args(argv)
    names = args.names or list(ORDER)
    command = "python -m bench" + (" " + " ".join(args.names) if args.names else "")
    if os.environ.get("BENCH_SCALE"):
        command = f"BENCH_SCALE={os.environ['BENCH_SCALE']} {command}"
    # Every benchmark but lists (single timed HTTP calls) drives load with wrk.
    with_load = any(name in LOAD_DRIVEN for name in names)
    if with_load:
        ensure_wrk()
    # A SIGTERM (timeout, CI cancel) unwinds like Ctrl-C, so every started process stops.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = Context()
    began = time.monotonic()
    try:
        ctx.prepare()
        print(
            f"bench: seeded {ctx.users:,} users in {ctx.seed_seconds:.1f} s",
            file=sys.stderr,
        )
        if with_load:
            rate = measure_receiver(ctx)
            print(f"bench: webhook receiver alone: {rate:,.0f} POSTs/s", file=sys.stderr)
        for name in (n for n in ORDER if n in names):
            step = time.monotonic()
            report = ORDER[name](ctx, command)
            report.notes.append(
                f"This benchmark took {time.monotonic() - step:.0f} s"
                + (
                    f" (BENCH_SCALE={os.environ['BENCH_SCALE']}: shortened runs)"
                    if os.environ.get("BENCH_SCALE")
                    else ""
                )
                + "."
            )
            path = report.write()
            verdicts = ", ".join(f"{g.text}: {g.verdict.strip('*')}" for g in report.goals)
            print(f"bench: {name} → {path} ({verdicts})", file=sys.stderr)
    finally:
        # A second Ctrl-C or SIGTERM must not cut the clean-up short: processes would
        # linger and the run's database and vhost would stay behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        ctx.close()
    print(f"bench: done in {time.monotonic() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
