"""The benchmark harness's parts at a tiny size, so ``bench/`` does not rot between runs.

No figure is asserted here (timing lives in ``bench/``): only that the receiver records
what it is sent, that wrk's script sends what it is told, that the sampler reads /proc
and that reports carry every figure, ceiling, ratio and verdict.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.load import Load
from bench.procstat import EXITED_CHILDREN, GroupUsage, Sampler, tree
from bench.profile import summarize
from bench.report import Figure, Goal, Report, Usage
from bench.scenarios.common import (
    HARNESS,
    POSTGRESQL,
    RABBITMQ,
    RECEIVER,
    Work,
    cpu_bound_figures,
    cpu_ms_per_operation,
    cpu_per_operation_figures,
)
from bench.scenarios.scale import (
    Comparison,
    cost_goal_met,
    median_or_none,
    paired_ratios,
    throughput_cost,
)
from bench.stack import ROOT, Stack, free_port
from tests.processes import started


@pytest.fixture
def receiver_url() -> Iterator[str]:
    """The bench webhook receiver, started as the benchmarks start it, on a loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bench.receiver", "--port", str(port)]
    with started(command, cwd=ROOT) as receiver:
        for _ in range(200):
            assert receiver.poll() is None, receiver.output()
            try:
                httpx.get(f"{url}/_stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url


def test_receiver_records_each_webhook_by_username_and_counts_repeats(receiver_url: str) -> None:
    with httpx.Client() as client:
        for name in ("alice", "bob", "alice"):
            body = {"Recipient": {"Username": name}, "EventBody": {"Username": name}}
            assert client.post(f"{receiver_url}/hook", json=body).status_code == 204
        stats = client.get(f"{receiver_url}/_stats").json()
        assert stats["count"] == 3
        assert stats["duplicates"] == 1
        assert set(stats["arrivals"]) == {"alice", "bob"}
        client.post(f"{receiver_url}/_reset")
        assert client.get(f"{receiver_url}/_stats").json()["count"] == 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_script_sends_otp_requests_for_successive_users_and_stops_at_the_limit(
    receiver_url: str,
) -> None:
    result = Load(
        url=f"{receiver_url}/v1/password/onetimepassword",
        kind="otp-request",
        seconds=30,
        connections=2,
        limit=40,
        client_id="CLIENT",
        user_start=1,
        user_count=40,
    ).run()
    assert result.requests >= 40
    assert result.failed == 0
    # What reached the receiver lies between the answers wrk counted and the requests it
    # built (those in flight past the limit arrive too; the last one built may not).
    time.sleep(0.2)
    stats = httpx.get(f"{receiver_url}/_stats").json()
    assert result.requests <= stats["count"] <= result.sent
    assert {f"user{n:07d}" for n in range(1, 41)} <= set(stats["arrivals"])


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_script_sends_one_form_post_per_credential_line(
    receiver_url: str, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"user{n:07d} 1234567{n}\n" for n in range(5)))
    result = Load(
        url=f"{receiver_url}/oauth/token",
        kind="grant-pairs",
        seconds=30,
        connections=1,
        client_id="CLIENT",
        pairs_file=str(pairs),
    ).run()
    assert result.requests == 5
    assert result.sent >= 5
    assert httpx.get(f"{receiver_url}/_stats").json()["count"] == 5


def test_sampler_reads_cpu_and_memory_of_a_process_tree() -> None:
    with Sampler({"this test": tree(os.getpid())}, interval=0.05) as sampler:
        with sampler.window() as window:
            sum(i * i for i in range(300_000))
        sampler.sample()
        usage = sampler.usage(window.cpu)["this test"]
    assert usage.processes >= 1
    assert usage.peak_rss_mib > 0
    assert usage.cpu_percent > 0


def test_report_sets_each_figure_beside_its_ceiling_and_says_which_goals_are_missed(
    tmp_path: Path,
) -> None:
    report = Report("sample", "Sample", "python -m bench sample", machine={"cpus": "2"})
    report.figures.append(Figure("OTP requests/s", 500.0, "req/s", 1000.0, "no-op POST"))
    report.goals.append(Goal("≥ 60% of the ceiling", False, "50%"))
    report.goals.append(Goal("p99 ≤ 25 ms", True, "12 ms"))
    report.usage.append(Usage("flat out", 10.0, {}))
    report.profile = "busy samples"
    text = report.write(tmp_path).read_text()
    assert "`python -m bench sample`" in text
    assert "| OTP requests/s | 500 req/s | 1,000 req/s (no-op POST) | 50% |" in text
    assert "| ≥ 60% of the ceiling | 50% | **MISSED** |" in text
    assert "| p99 ≤ 25 ms | 12 ms | **met** |" in text
    assert "busy samples" in text


def test_profile_summary_leaves_out_threads_parked_waiting_for_work() -> None:
    collapsed = "\n".join(
        [
            f"process 1:x;run ({ROOT}/core/otp.py:10);"
            "hash (/v/site-packages/argon2/_password_hasher.py:5) 30",
            "process 1:x;_worker (/usr/lib/python3.11/concurrent/futures/thread.py:81) 70",
        ]
    )
    summary = summarize(collapsed)
    assert summary.startswith("30 samples of threads holding the GIL (another 70")
    assert "100.0%  hash (argon2/_password_hasher.py:5)" in summary
    assert "100.0%  run (core/otp.py:10)" in summary
    assert "100.0%  argon2" in summary  # the by-library breakdown


def _usage(seconds: float, **cpu_percent: float) -> Usage:
    groups = {name: GroupUsage(percent, 0.0, 0.0, 1) for name, percent in cpu_percent.items()}
    return Usage("window", seconds, groups)


def test_cpu_per_operation_is_the_groups_cpu_time_over_the_window_per_success() -> None:
    # 150% of a core for 2 s is 3 CPU-seconds; over 600 operations, 5 ms each.
    usage = _usage(2.0, api=150.0, postgres=50.0, rabbit=25.0)
    assert cpu_ms_per_operation(Work(usage, 600), ["api"]) == pytest.approx(5.0)
    # Groups add up: (50% + 25%) x 2 s = 1.5 CPU-seconds over 600 operations.
    assert cpu_ms_per_operation(Work(usage, 600), ["postgres", "rabbit"]) == pytest.approx(2.5)
    assert cpu_ms_per_operation(Work(usage, 0), ["api"]) is None


def test_cpu_per_operation_figures_set_the_product_beside_its_no_op_run() -> None:
    product = Work(_usage(4.0, token=100.0, **{POSTGRESQL: 40.0, RABBITMQ: 10.0}), 1000)
    ceiling = Work(_usage(2.0, token=100.0, **{POSTGRESQL: 0.0, RABBITMQ: 5.0}), 2000)
    own, services = cpu_per_operation_figures(
        "OTP grant", "token", product, ceiling, "no-op form POST"
    )
    assert own.name == "token CPU per OTP grant"
    assert (own.value, own.ceiling, own.ratio) == pytest.approx((4.0, 1.0, 4.0))
    assert own.ceiling_name == "no-op form POST"
    assert services.name == "PostgreSQL + RabbitMQ CPU per OTP grant"
    assert (services.value, services.ceiling) == pytest.approx((2.0, 0.05))
    assert services.ratio is None  # the no-op barely uses them: a ratio would mean nothing


def test_cpu_bound_figures_count_the_service_and_give_the_rate_its_cpu_allows() -> None:
    # The service is api + PostgreSQL + RabbitMQ: (100% + 40% + 10%) x 4 s over 1,000
    # requests = 6 ms each; the load generator, harness and receiver are not the service.
    product = Work(
        _usage(
            4.0,
            api=100.0,
            **{POSTGRESQL: 40.0, RABBITMQ: 10.0, HARNESS: 30.0, RECEIVER: 20.0},
            **{EXITED_CHILDREN: 50.0},
        ),
        1000,
    )
    ceiling = Work(_usage(2.0, api=100.0, **{POSTGRESQL: 0.0, RABBITMQ: 0.0}), 4000)
    service, allowed = cpu_bound_figures("OTP request", "req/s", product, ceiling, "no-op", cores=2)
    assert (service.value, service.ceiling) == pytest.approx((6.0, 0.5))
    # 2 cores x 1,000 ms ÷ 6 ms; the no-op's 0.5 ms allows 4,000/s.
    assert (allowed.value, allowed.ceiling) == pytest.approx((2000 / 6, 4000.0))
    assert allowed.unit == "req/s"
    assert "2 cores" in allowed.name


def test_passes_are_listed_in_the_order_they_ran_small_first_and_last() -> None:
    small: list[Any] = ["10k-1", "10k-2", "10k-3", "10k-4"]
    large: list[Any] = ["1M-1", "1M-2", "1M-3"]
    comparison = Comparison("x/s", "x/s", "x", "api", small, large)
    assert comparison.in_order() == [
        "10k-1", "1M-1", "10k-2", "1M-2", "10k-3", "1M-3", "10k-4"
    ]  # fmt: skip


def test_each_large_pass_is_paired_with_the_mean_of_the_small_passes_either_side() -> None:
    # Passes ran 10k 100, 1M 90, 10k 200, 1M 150, 10k 100, 1M 60: the host sped up, then
    # slowed down. The last 1M pass has only the 10k pass before it.
    ratios = paired_ratios([100.0, 200.0, 100.0], [90.0, 150.0, 60.0])
    assert ratios == pytest.approx([90 / 150, 150 / 150, 60 / 100])
    # A pass without a figure drops out of its pairs, not the whole comparison.
    assert paired_ratios([100.0, None, 100.0], [90.0, None, 80.0]) == pytest.approx([0.9, 0.8])
    assert paired_ratios([0.0], [50.0]) == []


def test_scale_goal_is_judged_on_the_median_paired_ratio() -> None:
    # One odd pair (0.5) does not sink the verdict: the median is 0.9, a 10% cost.
    cost = throughput_cost([0.5, 0.9, 0.95])
    assert cost == pytest.approx(0.10)
    assert cost_goal_met(cost) is True
    assert throughput_cost([0.8, 0.84, 1.2]) == pytest.approx(0.16)
    assert cost_goal_met(throughput_cost([0.8, 0.84, 1.2])) is False
    assert cost_goal_met(0.15) is True  # "≤ 15%"
    assert throughput_cost([]) is None
    assert cost_goal_met(None) is None
    assert median_or_none([3.0, None, 1.0, 2.0]) == 2.0
    assert median_or_none([None]) is None


def test_each_bench_run_names_its_own_database_and_vhost(tmp_path: Path) -> None:
    this_run, other_run = Stack(workdir=tmp_path), Stack(workdir=tmp_path, run_id="4242")
    assert this_run.database_name == f"otp_bench_{os.getpid()}"
    assert this_run.vhost_name == f"otp-bench-{os.getpid()}"
    assert (other_run.database_name, other_run.vhost_name) == ("otp_bench_4242", "otp-bench-4242")
