"""The real ``otp api``, ``otp token`` and ``otp worker`` processes, wired through fault proxies.

Built on :mod:`tests.processes` (``otp_command``, ``free_port``, ``wait_until_healthy``).
Each process runs in its own session (process group), so :meth:`ServiceProcess.kill`
can SIGKILL a worker together with every child it forked, the way a crashed container
or an OOM kill ends it: no signal handler runs, no message is acknowledged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import TEST_SECRET_KEY
from tests.processes import Process, free_port, otp_command, wait_until_healthy

SERVICE_SECRET_KEY = "reliability-secret-key-0123456789abcdef-0123"


def service_env(
    *,
    database_url: str,
    broker_url: str,
    jwt_private_key: str,
    **overrides: str,
) -> dict[str, str]:
    """The environment of a service process: this test's URLs (usually proxied) and keys."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTP_")}
    env.update(
        {
            "OTP_DATABASE_URL": database_url,
            "OTP_BROKER_URL": broker_url,
            "OTP_SECRET_KEY": SERVICE_SECRET_KEY,
            # Stored secrets are sealed by the test process (factories), with its key.
            "OTP_ENCRYPTION_KEYS": TEST_SECRET_KEY,
            "OTP_JWT_PRIVATE_KEY": jwt_private_key,
            "OTP_LOG_FORMAT": "json",
            "OTP_BLOCKED_TARGET_NETWORKS": "none",  # receivers listen on loopback
            "OTP_IP_RATE_LIMIT": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


@dataclass
class ServiceProcess:
    """One ``otp`` command that can be started, SIGKILLed and started again.

    Every incarnation writes its own log file; :attr:`log_paths` keeps them all so the
    leak scan reads every line any incarnation wrote.
    """

    args: tuple[str, ...]
    env: Mapping[str, str]
    log_paths: list[Path] = field(default_factory=list)
    process: Process | None = None
    kills: int = 0

    def start(self) -> ServiceProcess:
        with tempfile.NamedTemporaryFile(
            prefix=f"otp-{self.args[0]}-", suffix=".log", delete=False
        ) as log:
            log_path = Path(log.name)
        with log_path.open("wb") as sink:
            process = Process(
                otp_command(*self.args),
                env=dict(self.env),
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
        process.log_path = log_path
        self.log_paths.append(log_path)
        self.process = process
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the process and everything it forked, at once."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the group (a graceful shutdown), SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Children of a gracefully ended parent still belong to the group: end stragglers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def output(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.log_paths)

    def current_log_contains(self, text: str) -> bool:
        """Whether the running incarnation has logged ``text`` yet."""
        return bool(self.log_paths) and text in self.log_paths[-1].read_text(errors="replace")


@dataclass
class HttpService(ServiceProcess):
    """``otp api`` or ``otp token``: a gunicorn server on a free loopback port."""

    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_healthy(self, timeout: float = 60.0) -> HttpService:
        assert self.process is not None
        wait_until_healthy(self.base_url, self.process, timeout=timeout)
        return self


def http_service(
    command: str, env: Mapping[str, str], *, workers: int = 2, threads: int = 8
) -> HttpService:
    port = free_port()
    args = (command, "--bind", f"127.0.0.1:{port}", "--workers", str(workers))
    return HttpService(args=(*args, "--threads", str(threads)), env=env, port=port)


def worker_service(
    env: Mapping[str, str],
    *,
    queues: tuple[str, ...] = (),
    processes: int = 1,
    threads: int = 4,
) -> ServiceProcess:
    args: tuple[str, ...] = ("worker", "--processes", str(processes), "--threads", str(threads))
    if queues:
        args = (*args, "--queues", *queues)
    worker_env = {**env, "OTP_WORKER_METRICS_PORT": str(free_port())}
    return ServiceProcess(args=args, env=worker_env)


@contextlib.contextmanager
def running(*services: ServiceProcess) -> Iterator[tuple[ServiceProcess, ...]]:
    """Start the services (HTTP ones until healthy); stop all of them after the block."""
    try:
        for service in services:
            service.start()
        for service in services:
            if isinstance(service, HttpService):
                service.wait_until_healthy()
        yield services
    finally:
        for service in reversed(services):
            service.stop()


def wait_for(condition: object, timeout: float, interval: float = 0.25) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
