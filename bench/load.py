"""The load generator: ``wrk`` (C, event loop, out of process) driven by ``lua/post.lua``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "lua" / "post.lua"


class LoadGeneratorMissing(SystemExit):
    pass


def ensure_wrk() -> str:
    """The wrk binary; installed with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk not found, installing it with apt-get", file=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found = shutil.which("wrk")
        if found:
            return found
    raise LoadGeneratorMissing(
        "bench: wrk is required and could not be installed: run `apt-get install -y wrk`"
    )


@dataclass
class LoadResult:
    """What wrk measured, in plain units."""

    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    statuses: dict[str, int] = field(default_factory=dict)
    # Requests wrk built: past a limit, the other connections' requests in flight reach
    # the server too, and some of their answers still count in ``requests``. An upper
    # bound: the last one built may never be written.
    sent: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def successes(self) -> int:
        """Answers with a 2xx/3xx status (wrk counts every other status as an error)."""
        return self.requests - self.errors.get("status", 0)

    @property
    def success_rate(self) -> float:
        return self.successes / self.seconds if self.seconds else 0.0

    @classmethod
    def from_wrk(cls, payload: dict[str, Any]) -> LoadResult:
        # A run that stopped at its request limit measured its own span (first request
        # written → last answer read); wrk's duration would include the time it idled.
        span = payload.get("span_us") or payload["duration_us"]
        return cls(
            requests=int(payload["requests"]),
            seconds=span / 1e6,
            errors={k: int(v) for k, v in payload["errors"].items()},
            latency_ms={k: v / 1000 for k, v in payload["latency_us"].items()},
            statuses={k: int(v) for k, v in payload.get("statuses_sampled", {}).items()},
            sent=max(int(payload.get("sent", 0)), int(payload["requests"])),
        )


@dataclass
class Load:
    """One wrk run: where, what, how hard, for how long."""

    url: str
    kind: str  # otp-request | grant-pairs | static
    seconds: float = 10.0
    connections: int = 32
    threads: int = 1
    rate: float = 0.0  # total requests/s; 0 = as fast as the server answers
    limit: int = 0  # stop after this many requests; 0 = run for ``seconds``
    client_id: str = ""
    user_format: str = "user%07d"
    user_start: int = 1
    user_count: int = 1
    pairs_file: str = ""
    body: str = "{}"
    content_type: str = "application/json"
    timeout: str = "10s"
    command_line: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        from urllib.parse import urlsplit

        return {
            **os.environ,
            "BENCH_KIND": self.kind,
            "BENCH_PATH": urlsplit(self.url).path or "/",
            "BENCH_RATE": str(self.rate),
            "BENCH_LIMIT": str(self.limit),
            "BENCH_THREADS": str(self.threads),
            "BENCH_CLIENT_ID": self.client_id,
            "BENCH_USER_FORMAT": self.user_format,
            "BENCH_USER_START": str(self.user_start),
            "BENCH_USER_COUNT": str(self.user_count),
            "BENCH_PAIRS_FILE": self.pairs_file,
            "BENCH_BODY": self.body,
            "BENCH_CONTENT_TYPE": self.content_type,
        }

    def command(self) -> list[str]:
        base = self.url.split("/", 3)
        origin = "/".join(base[:3])
        return [
            ensure_wrk(),
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(self.seconds))}s",
            f"--timeout={self.timeout}",
            "-s",
            str(LUA),
            origin + "/",
        ]

    def start(self) -> subprocess.Popen[str]:
        self.command_line = self.command()
        return subprocess.Popen(
            self.command_line,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def result(self, process: subprocess.Popen[str]) -> LoadResult:
        """Wait for wrk's answer; interrupt it once every thread reached its limit."""
        assert process.stdout is not None
        output: list[str] = []
        finished_threads = 0
        with process.stdout:
            for line in process.stdout:
                output.append(line)
                if line.startswith("BENCH_THREAD_DONE"):
                    finished_threads += 1
                    if finished_threads == self.threads:
                        process.send_signal(signal.SIGINT)  # wrk then reports at once
        process.wait()
        for line in output:
            if line.startswith("BENCH_RESULT "):
                return LoadResult.from_wrk(json.loads(line.removeprefix("BENCH_RESULT ")))
        text = "".join(output)
        raise RuntimeError(f"wrk gave no result (exit {process.returncode}):\n{text}")

    def run(self) -> LoadResult:
        return self.result(self.start())

    def describe(self) -> str:
        pace = f"{self.rate:g} req/s paced" if self.rate else "as fast as answered"
        stop = f", stop after {self.limit} requests" if self.limit else ""
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{max(1, round(self.seconds))}s "
            f"({pace}{stop}) POST {self.url}"
        )
