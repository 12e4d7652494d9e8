"""Real PostgreSQL and RabbitMQ for tests: this machine's, a container's, or a skip.

``OTP_TEST_DATABASE_URL`` / ``OTP_TEST_BROKER_URL`` name running services (CI, this
machine). Without them, testcontainers starts them when Docker is available. Otherwise
the tests that need them are skipped with a how-to, except under ``CI=true``, where a
missing service fails the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import psycopg
import pytest

HOW_TO = (
    "set OTP_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) and "
    "OTP_TEST_BROKER_URL (e.g. amqp://guest:guest@127.0.0.1:5672/%2F), or install Docker"
)


def _missing(what: str) -> None:
    message = f"no {what} for the tests: {HOW_TO}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# This project's machines run both services locally (docs/testing.md); a bare `make test` there
# uses them, as `.ci/run` does, without any variable set.
LOCAL_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCAL_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _local_service(url: str, port: int) -> str | None:
    """``url`` when something answers on 127.0.0.1:``port``, else None."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return None
    return url


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@contextlib.contextmanager
def postgres_server_url() -> Iterator[str]:
    """A SQLAlchemy URL of a PostgreSQL server the tests may create databases on."""
    url = os.environ.get("OTP_TEST_DATABASE_URL") or _local_service(LOCAL_DATABASE_URL, 5432)
    if url:
        yield url
        return
    if not _docker_available():
        _missing("PostgreSQL")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
        yield container.get_connection_url()


@contextlib.contextmanager
def rabbitmq_server_url() -> Iterator[str]:
    url = os.environ.get("OTP_TEST_BROKER_URL") or _local_service(LOCAL_BROKER_URL, 5672)
    if url:
        yield url
        return
    if not _docker_available():
        _missing("RabbitMQ")
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13-alpine") as container:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/%2F"


def _libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server for one test session; dropped afterwards."""
    name = f"otp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(_libpq_url(server_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rabbitmqctl(*args: str) -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, check=False)
    return result.returncode == 0


@contextlib.contextmanager
def fresh_vhost(server_url: str) -> Iterator[str]:
    """A vhost of its own when ``rabbitmqctl`` can make one; otherwise the given vhost."""
    parts = urlsplit(server_url)
    host = parts.hostname or ""
    vhost = f"otp-test-{uuid.uuid4().hex[:12]}"
    if host in {"127.0.0.1", "localhost", "::1"} and _rabbitmqctl("add_vhost", vhost):
        _rabbitmqctl("set_permissions", "-p", vhost, parts.username or "guest", ".*", ".*", ".*")
        try:
            yield urlunsplit(parts._replace(path=f"/{quote(vhost, safe='')}"))
        finally:
            _rabbitmqctl("delete_vhost", vhost)
        return
    yield server_url


def purge_queues(broker_url: str, queues: list[str]) -> None:
    """Empty every named queue (and its delay and dead-letter queues) that exists."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
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
