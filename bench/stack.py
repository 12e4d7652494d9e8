"""The real processes a benchmark runs against, on their own databases and vhost.

``Stack`` owns: fresh PostgreSQL databases named after the run (``otp_bench_<pid>``, and
``otp_bench_<pid>_<suffix>`` for a scenario that needs another) migrated to head, a
RabbitMQ vhost (``otp-bench-<pid>``) when ``rabbitmqctl`` can make one, the settings every
process gets, and the processes it starts (each in its own session, stopped by its own
id). Two bench runs at once use different names; :meth:`Stack.close` stops the processes
and drops the databases and the vhost it made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pika
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import migrations

DATABASE_PREFIX = "otp_bench"
VHOST_PREFIX = "otp-bench"
SECRET_KEY = "bench-secret-key-0123456789abcdef-0123456789"
DEFAULT_DATABASE_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
ALL = (".*", ".*", ".*")  # configure, write, read permissions on the vhost
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


@dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Stack:
    """Services, settings and started processes for one benchmark run."""

    database_server: str = field(
        default_factory=lambda: (
            os.environ.get("OTP_BENCH_DATABASE_URL")
            or os.environ.get("OTP_TEST_DATABASE_URL")
            or DEFAULT_DATABASE_SERVER
        )
    )
    broker_server: str = field(
        default_factory=lambda: (
            os.environ.get("OTP_BENCH_BROKER_URL")
            or os.environ.get("OTP_TEST_BROKER_URL")
            or DEFAULT_BROKER
        )
    )
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="otp-bench-")))
    processes: list[Started] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: str(os.getpid()))
    database_url: str = ""  # the run's main database, the one every process gets by default
    broker_url: str = ""
    databases: list[str] = field(default_factory=list)  # made by this run; close() drops them
    vhost: str = ""  # made by this run ("" while none is, or when the broker's own is used)

    # -- services ------------------------------------------------------------------

    @property
    def database_name(self) -> str:
        return f"{DATABASE_PREFIX}_{self.run_id}"

    @property
    def vhost_name(self) -> str:
        return f"{VHOST_PREFIX}-{self.run_id}"

    def create_database(self, suffix: str = "") -> str:
        """A fresh ``otp_bench_<run>[_<suffix>]`` migrated to head; its URL.

        A database of that name is a leftover of a killed run with the same process id:
        it is dropped first.
        """
        name = f"{self.database_name}_{suffix}" if suffix else self.database_name
        with psycopg.connect(_libpq(self.database_server), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        url = _with_path(self.database_server, f"/{name}")
        migrations.upgrade(url)
        return url

    def connect(self, url: str = "") -> psycopg.Connection:
        """A connection to ``url`` (by default the main database), in autocommit."""
        return psycopg.connect(_libpq(url or self.database_url), autocommit=True)

    def fresh_vhost(self) -> str:
        """A vhost of the run's own (``otp-bench-<run>``), or the given one when we cannot."""
        parts = urlsplit(self.broker_server)
        ctl = shutil.which("rabbitmqctl")
        name = self.vhost_name
        if ctl and parts.hostname in {"127.0.0.1", "localhost"}:
            subprocess.run([ctl, "-q", "delete_vhost", name], capture_output=True, check=False)
            made = subprocess.run([ctl, "-q", "add_vhost", name], capture_output=True, check=False)
            if made.returncode == 0:
                self.vhost = name
                subprocess.run(
                    [ctl, "-q", "set_permissions", "-p", name, parts.username or "guest", *ALL],
                    capture_output=True,
                    check=False,
                )
                self.broker_url = urlunsplit(parts._replace(path="/" + quote(name, safe="")))
                return self.broker_url
        self.broker_url = self.broker_server
        return self.broker_url

    def drop_databases(self) -> None:
        """Drop every database this run made (sessions still on them are ended)."""
        while self.databases:
            name = self.databases.pop()
            try:
                with psycopg.connect(_libpq(self.database_server), autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error as error:
                print(f"bench: could not drop database {name}: {error}", file=sys.stderr)

    def drop_vhost(self) -> None:
        ctl = shutil.which("rabbitmqctl")
        if self.vhost and ctl:
            dropped = subprocess.run(
                [ctl, "-q", "delete_vhost", self.vhost], capture_output=True, check=False
            )
            if dropped.returncode != 0:
                print(f"bench: could not delete vhost {self.vhost}", file=sys.stderr)
        self.vhost = ""

    def close(self) -> None:
        """Stop every started process, then drop the run's databases and vhost and remove
        its working folder (process logs, key, load files)."""
        try:
            self.stop_all()
        finally:
            try:
                self.drop_databases()
            finally:
                self.drop_vhost()
                shutil.rmtree(self.workdir, ignore_errors=True)

    def purge(self, *queues: str) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(self.broker_url))
        try:
            for queue in queues:
                for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                    channel = connection.channel()
                    with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                        channel.queue_purge(name)
                    if channel.is_open:
                        channel.close()
        finally:
            connection.close()

    def queue_state(self, queue: str) -> tuple[int, int]:
        """(messages ready, consumers) of ``queue``; (0, 0) when it does not exist."""
        connection = pika.BlockingConnection(pika.URLParameters(self.broker_url))
        try:
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                return 0, 0
            return int(declared.method.message_count), int(declared.method.consumer_count)
        finally:
            connection.close()

    def wait_consumers(self, started: Started, *queues: str, timeout: float = 60.0) -> None:
        """Until every queue has a consumer: the worker is up and listening."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if started.process.poll() is not None:
                raise RuntimeError(f"{started.name} exited:\n{started.output()[-3000:]}")
            if all(self.queue_state(queue)[1] > 0 for queue in queues):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{started.name} did not consume {queues} in {timeout}s")

    # -- settings ------------------------------------------------------------------

    def jwt_key_path(self) -> Path:
        path = self.workdir / "jwt.pem"
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return path

    def environment(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTP_", "BENCH_"))
        }
        env.update(
            {
                "OTP_DATABASE_URL": self.database_url,
                "OTP_BROKER_URL": self.broker_url,
                "OTP_SECRET_KEY": SECRET_KEY,
                "OTP_JWT_PRIVATE_KEY": f"@{self.jwt_key_path()}",
                "OTP_IP_RATE_LIMIT": "0",  # wrk sends everything from one IP
                "OTP_LOG_FORMAT": "json",
                "OTP_BLOCKED_TARGET_NETWORKS": "none",  # the receiver is on loopback
                "OTP_WORKER_METRICS_PORT": "0",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(extra)
        return env

    # -- processes -----------------------------------------------------------------

    def start(self, name: str, command: list[str], **extra_env: str) -> Started:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                env=self.environment(**extra_env),
                cwd=ROOT,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
        started = Started(name, process, log)
        self.processes.append(started)
        return started

    def stop(self, started: Started, timeout: float = 20.0) -> None:
        """SIGTERM the process's own group (it and its workers), SIGKILL if it lingers."""
        if started.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started.pid, signal.SIGTERM)
            try:
                started.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(started.pid, signal.SIGKILL)
                started.process.wait()
        if started in self.processes:
            self.processes.remove(started)

    def stop_all(self) -> None:
        for started in reversed(list(self.processes)):
            self.stop(started)

    @contextlib.contextmanager
    def running(self, name: str, command: list[str], **extra_env: str) -> Iterator[Started]:
        started = self.start(name, command, **extra_env)
        try:
            yield started
        finally:
            self.stop(started)

    def wait_http(self, started: Started, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if started.process.poll() is not None:
                raise RuntimeError(f"{started.name} exited:\n{started.output()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code < 500:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{started.name} did not answer {url} in {timeout}s")


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def otp(*args: str) -> list[str]:
    """The ``otp`` console script, run by this interpreter."""
    return [sys.executable, "-m", "cli.main", *args]
