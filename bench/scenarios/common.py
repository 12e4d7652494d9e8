"""What every scenario shares: the stack, a seeded marketplace, the servers, measuring."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import httpx

from bench import seed
from bench.load import Load, LoadResult
from bench.pipeline import PIPELINE_QUEUES
from bench.procstat import EXITED_CHILDREN, Sampler, named, tree
from bench.report import Figure, Goal, Usage
from bench.stack import Stack, Started, free_port, otp, python
from core.messaging.routes import ALL_QUEUES

# The same server configuration for the product and its ceiling: `otp api`'s defaults.
SERVER_WORKERS = 2
SERVER_THREADS = 8
WORKER_PROCESSES = 2
WORKER_THREADS = 8
SMALL_POPULATION = 10_000
LARGE_POPULATION = 1_000_000
# The sampler's groups for the servers underneath (whole servers: anything else using
# them on this machine counts too).
POSTGRESQL = "postgresql (whole server)"
RABBITMQ = "rabbitmq (beam.smp)"
RECEIVER = "webhook receiver"
HARNESS = "bench harness"
# What a deployment would not run on its own box: the clients and the webhook endpoint.
NOT_THE_SERVICE = frozenset({HARNESS, EXITED_CHILDREN, RECEIVER})


def seconds(default: float) -> float:
    """Measurement length; ``BENCH_SCALE`` (e.g. 0.3) shortens every run for a quick look."""
    return max(2.0, default * float(os.environ.get("BENCH_SCALE", "1")))


@dataclass
class Receiver:
    started: Started
    url: str

    def reset(self) -> None:
        httpx.post(f"{self.url}/_reset", timeout=5)

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.url}/_stats", timeout=30).json()
        return answer

    def wait_for(self, count: int, timeout: float) -> dict[str, Any]:
        """Poll until messages for ``count`` distinct usernames arrived (or the time is
        up); the last stats."""
        deadline = time.monotonic() + timeout
        stats = self.stats()
        while len(stats["arrivals"]) < count and time.monotonic() < deadline:
            time.sleep(0.5)
            stats = self.stats()
        return stats

    def settle(self, quiet: float = 1.0, timeout: float = 15.0) -> None:
        """Wait until no message has arrived for ``quiet`` seconds (or the time is up)."""
        deadline = time.monotonic() + timeout
        count = self.stats()["count"]
        while time.monotonic() < deadline:
            time.sleep(quiet)
            latest = self.stats()["count"]
            if latest == count:
                return
            count = latest


@dataclass(frozen=True)
class Population:
    """A database of the run seeded with the shared marketplace and ``users`` users."""

    name: str  # short, for process and file names ("10k"); "" for the run's main database
    users: int
    database_url: str
    seed_seconds: float  # seeding the users

    @property
    def label(self) -> str:
        return f"{self.users:,} users"


@dataclass
class Context:
    """One bench run's services and data; scenarios share it when run together."""

    stack: Stack = field(default_factory=Stack)
    client_id: str = ""
    users: int = 0
    password_hash: str = ""
    receiver: Receiver | None = None
    seed_seconds: float = 0.0
    results: dict[str, Any] = field(default_factory=dict)

    def prepare(self, users: int = SMALL_POPULATION) -> None:
        """The vhost, the webhook receiver and the main database with ``users`` users."""
        self.stack.fresh_vhost()
        port = free_port()
        started = self.stack.start("receiver", python("-m", "bench.receiver", "--port", str(port)))
        url = f"http://127.0.0.1:{port}"
        self.stack.wait_http(started, f"{url}/_stats")
        self.receiver = Receiver(started, url)
        self.password_hash = seed.shared_password_hash()
        self.client_id = seed.new_client_id()
        main = self.seed_population("", users)
        self.stack.database_url = main.database_url
        self.users = users
        self.seed_seconds = main.seed_seconds

    def seed_population(self, name: str, users: int) -> Population:
        """A new database of the run (``otp_bench_<run>_<name>``) holding the same
        marketplace (ClientID, webhook sender, shared key) and users ``1`` .. ``users``
        with the shared password hash: the same load files work against any of them."""
        assert self.receiver is not None
        url = self.stack.create_database(name)
        with self.stack.connect(url) as connection:
            seed.seed_marketplace(
                connection, client_id=self.client_id, webhook_url=f"{self.receiver.url}/hook"
            )
            took = seed.seed_users(
                connection, first=1, count=users, password_hash=self.password_hash
            )
        return Population(name, users, url, took)

    def close(self) -> None:
        """Stop every process; drop the run's databases and vhost."""
        self.stack.close()

    def purge(self) -> None:
        self.stack.purge(*ALL_QUEUES, *PIPELINE_QUEUES)

    # -- servers -------------------------------------------------------------------

    def _server_options(self, port: int, workers: int = SERVER_WORKERS) -> list[str]:
        return [
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(SERVER_THREADS),
        ]

    @contextlib.contextmanager
    def _server(
        self, role: str, *, ceiling: bool, workers: int, population: Population | None
    ) -> Iterator[tuple[str, Started]]:
        """``otp <role>`` (or the bench app with its no-op routes, served the same way),
        on the main database or on ``population``'s."""
        port = free_port()
        options = self._server_options(port, workers)
        command = python("-m", "bench.apps", role, *options) if ceiling else otp(role, *options)
        name = f"{role}-ceiling" if ceiling else role
        extra = {}
        if population is not None:
            name = f"{name}-{population.name}"
            extra["OTP_DATABASE_URL"] = population.database_url
        with self.stack.running(name, command, **extra) as started:
            url = f"http://127.0.0.1:{port}"
            self.stack.wait_http(started, f"{url}/healthz")
            yield url, started

    def api(
        self,
        *,
        ceiling: bool = False,
        workers: int = SERVER_WORKERS,
        population: Population | None = None,
    ) -> contextlib.AbstractContextManager[tuple[str, Started]]:
        return self._server("api", ceiling=ceiling, workers=workers, population=population)

    def token(
        self,
        *,
        ceiling: bool = False,
        workers: int = SERVER_WORKERS,
        population: Population | None = None,
    ) -> contextlib.AbstractContextManager[tuple[str, Started]]:
        return self._server("token", ceiling=ceiling, workers=workers, population=population)

    @contextlib.contextmanager
    def worker(
        self, *, ceiling: bool = False, processes: int = WORKER_PROCESSES
    ) -> Iterator[Started]:
        """``otp worker`` on every OTP queue, or the two-hop no-op pipeline's worker."""
        options = ["--processes", str(processes), "--threads", str(WORKER_THREADS)]
        assert self.receiver is not None
        if ceiling:
            command = python(
                "-m", "dramatiq", "bench.pipeline", *options, "--queues", *PIPELINE_QUEUES
            )
            extra = {
                "BENCH_PIPELINE_WORKER": "1",
                "BENCH_RECEIVER_URL": f"{self.receiver.url}/hook",
            }
            queues: tuple[str, ...] = PIPELINE_QUEUES
        else:
            command = otp("worker", *options)
            extra = {}
            queues = ALL_QUEUES[:2]
        with self.stack.running("worker-ceiling" if ceiling else "worker", command, **extra) as w:
            self.stack.wait_consumers(w, *queues)
            yield w

    # -- measuring -----------------------------------------------------------------

    def sampler(self, **servers: Started) -> Sampler:
        groups = {name: tree(started.pid) for name, started in servers.items()}
        if self.receiver is not None:
            groups[RECEIVER] = tree(self.receiver.started.pid)
        groups[POSTGRESQL] = named("postgres")
        groups[RABBITMQ] = named("beam.smp")
        own = os.getpid()
        groups[HARNESS] = lambda _table: {own}
        return Sampler(groups)

    def warm_up(self, load: Load, seconds: float = 2.0) -> None:
        """Send ``load`` briefly so pools, caches and lazy imports exist before measuring."""
        replace(load, seconds=seconds, limit=0, rate=0.0).run()
        time.sleep(1)  # let the requests wrk left in flight finish before measuring

    def measure(self, load: Load, sampler: Sampler, label: str) -> tuple[LoadResult, Usage]:
        """Run one wrk load while the sampler watches; the load and everyone's CPU."""
        sampler.reset_peaks()
        with sampler.window() as window:
            process = load.start()
            result = load.result(process)
        sampler.sample()
        return result, Usage(label, window.seconds, sampler.usage(window.cpu))


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def describe_latency(result: LoadResult) -> str:
    return json.dumps({k: round(v, 2) for k, v in result.latency_ms.items()})


def latency_figures(
    label: str, result: LoadResult, ceiling: LoadResult | None = None
) -> list[Figure]:
    """``<label> p50`` and ``p99`` in ms, each beside the no-op run's when one is given."""
    return [
        Figure(
            label.format(percentile=percentile),
            result.latency_ms[percentile],
            "ms",
            ceiling.latency_ms[percentile] if ceiling is not None else None,
            "no-op" if ceiling is not None else "",
        )
        for percentile in ("p50", "p99")
    ]


CPU_PER_OPERATION_NOTE = (
    "CPU per operation = a process group's CPU time over the measured window ÷ the "
    "operations that succeeded in it, beside the same figure of the no-op run. It moves far "
    "less than throughput when the host's CPU capacity drifts, and shows where a goal is "
    "lost (the product's own code, or the servers underneath). PostgreSQL and RabbitMQ are "
    "counted as whole servers: anything else using them meanwhile counts too. The service's "
    "CPU per operation adds up its processes, PostgreSQL and RabbitMQ (not the load "
    "generator, the harness or the webhook receiver); the rate it allows is the machine's "
    "cores x 1,000 ms divided by it: an upper bound with every core busy on this work, so a "
    "goal above it needs less CPU per operation, not tuning."
)


class Work(NamedTuple):
    """A measured window's CPU and the operations that succeeded in it."""

    usage: Usage
    operations: int


def cpu_ms_per_operation(work: Work, groups: Iterable[str]) -> float | None:
    """CPU milliseconds the ``groups`` together spent per operation of ``work``.

    ``cpu_percent`` is a share of one core over the window, so a group at 150% for 2 s
    used 3 CPU-seconds. ``None`` when nothing succeeded.
    """
    if work.operations <= 0:
        return None
    percent = sum(work.usage.groups[name].cpu_percent for name in groups)
    return 1000 * percent / 100 * work.usage.seconds / work.operations


def cpu_per_operation_figures(
    operation: str, group: str, product: Work, ceiling: Work, ceiling_name: str
) -> list[Figure]:
    """CPU ms per successful ``operation``: ``group``'s, then PostgreSQL's + RabbitMQ's,
    each beside the same figure of the no-op ceiling's run (same group names)."""
    servers = (POSTGRESQL, RABBITMQ)
    return [
        Figure(
            f"{group} CPU per {operation}",
            cpu_ms_per_operation(product, (group,)),
            "ms",
            cpu_ms_per_operation(ceiling, (group,)),
            ceiling_name,
        ),
        Figure(
            f"PostgreSQL + RabbitMQ CPU per {operation}",
            cpu_ms_per_operation(product, servers),
            "ms",
            cpu_ms_per_operation(ceiling, servers),
            ceiling_name,
            compared=False,
        ),
    ]


def service_cpu_ms_per_operation(work: Work) -> float | None:
    """CPU milliseconds per operation of every process the service needs (its own,
    PostgreSQL, RabbitMQ), without the load generator, the harness or the webhook receiver."""
    return cpu_ms_per_operation(
        work, [name for name in work.usage.groups if name not in NOT_THE_SERVICE]
    )


def cpu_ratio_goal(
    text: str, product_ms: float | None, ceiling_ms: float | None, limit: float
) -> Goal:
    """Met when ``product_ms`` is at most ``limit`` times ``ceiling_ms`` (same run)."""
    if product_ms is None or not ceiling_ms:
        return Goal(text, None, "no CPU per operation measured")
    ratio = product_ms / ceiling_ms
    return Goal(text, ratio <= limit, f"{ratio:.2f}x ({product_ms:.2f} vs {ceiling_ms:.2f} ms)")


def cpu_bound_figures(
    operation: str,
    unit: str,
    product: Work,
    ceiling: Work,
    ceiling_name: str,
    *,
    cores: int | None = None,
    suffix: str = "",
) -> list[Figure]:
    """The service's CPU per operation, and the rate that CPU allows on this machine's
    cores (cores x 1,000 ms ÷ CPU ms per operation), each beside the no-op run's.

    The rate is an upper bound: what the machine would do if every core were busy with
    this work and nothing waited. A goal above it cannot be met here by tuning; it needs
    less CPU per operation.
    """
    cores = cores or os.cpu_count() or 1
    product_ms = service_cpu_ms_per_operation(product)
    ceiling_ms = service_cpu_ms_per_operation(ceiling)
    return [
        Figure(
            f"service CPU per {operation} (its processes, PostgreSQL, RabbitMQ){suffix}",
            product_ms,
            "ms",
            ceiling_ms,
            ceiling_name,
        ),
        Figure(
            f"{unit} the CPU allows on {cores} cores (at that CPU per {operation}){suffix}",
            cores * 1000 / product_ms if product_ms else None,
            unit,
            cores * 1000 / ceiling_ms if ceiling_ms else None,
            ceiling_name,
        ),
    ]
