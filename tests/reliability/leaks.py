"""Search everything the service keeps for issued OTP codes: tables, queues, logs.

Invariant 1 of docs/architecture.md: the plaintext code exists only in the delivered message.
A code is looked for as a standalone run of digits in text (so the digits inside a longer
number, say a timestamp, do not count), and as its ASCII bytes anywhere in binary
columns and broker message bodies.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pika
import psycopg
from psycopg import sql

from core.messaging.routes import ALL_QUEUES

_DIGIT_RUN = re.compile(rb"\d+")


@dataclass(frozen=True)
class Leak:
    where: str  # "table one_time_passwords", "queue otp.requests.XQ", "log /tmp/..."
    code: str


@dataclass
class ScanReport:
    """What a scan looked at, so a test can tell an empty scan from a clean one."""

    codes: int = 0
    tables: int = 0
    rows: int = 0
    queues: int = 0
    messages: int = 0
    logs: int = 0
    log_bytes: int = 0

    def add(self, other: ScanReport) -> None:
        for name in ("tables", "rows", "queues", "messages", "logs", "log_bytes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _codes_in_text(blob: bytes, codes: frozenset[bytes]) -> set[str]:
    return {run.decode() for run in _DIGIT_RUN.findall(blob) if run in codes}


def _codes_in_bytes(blob: bytes, codes: frozenset[bytes]) -> set[str]:
    return {code.decode() for code in codes if code in blob}


def _as_bytes(codes: Iterable[str]) -> frozenset[bytes]:
    return frozenset(code.encode() for code in codes if code)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def scan_database(database_url: str, codes: Iterable[str]) -> tuple[list[Leak], ScanReport]:
    """Every column of every row of every table in the database's ``public`` schema."""
    wanted = _as_bytes(codes)
    report = ScanReport(codes=len(wanted))
    leaks: list[Leak] = []
    with psycopg.connect(_libpq_url(database_url)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ]
        for table in tables:
            report.tables += 1
            found: set[str] = set()
            with connection.cursor(binary=False) as cursor:
                cursor.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
                for row in cursor:
                    report.rows += 1
                    for value in row:
                        if value is None:
                            continue
                        if isinstance(value, bytes | bytearray | memoryview):
                            found |= _codes_in_bytes(bytes(value), wanted)
                        else:
                            found |= _codes_in_text(str(value).encode(), wanted)
            leaks.extend(Leak(f"table {table}", code) for code in sorted(found))
    return leaks, report


def list_queues(broker_url: str) -> list[str]:
    """Every queue of the URL's vhost (``rabbitmqctl``), else the OTP queues and their
    ``.DQ``/``.XQ`` companions."""
    vhost = unquote(urlsplit(broker_url).path.lstrip("/")) or "/"
    if shutil.which("rabbitmqctl"):
        result = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "--formatter", "json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if result.returncode == 0 and result.stdout.strip():
            return sorted(entry["name"] for entry in json.loads(result.stdout))
    return [f"{queue}{suffix}" for queue in ALL_QUEUES for suffix in ("", ".DQ", ".XQ")]


def queue_depths(broker_url: str, queues: Iterable[str]) -> dict[str, int]:
    """Ready messages per queue (0 for a queue that does not exist)."""
    depths: dict[str, int] = {}
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                depths[queue] = channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                depths[queue] = 0
                continue
            channel.close()
    finally:
        connection.close()
    return depths


def scan_queues(
    broker_url: str, codes: Iterable[str], queues: Iterable[str] | None = None
) -> tuple[list[Leak], ScanReport]:
    """Read every message of every queue (or of ``queues``) without consuming it
    (unacked, then requeued).

    Run it while no consumer is attached, or a consumer may take messages meanwhile.
    """
    wanted = _as_bytes(codes)
    report = ScanReport(codes=len(wanted))
    leaks: list[Leak] = []
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        for queue in list_queues(broker_url) if queues is None else queues:
            channel = connection.channel()
            try:
                channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                continue
            report.queues += 1
            found: set[str] = set()
            while True:
                method, properties, body = channel.basic_get(queue, auto_ack=False)
                if method is None:
                    break
                report.messages += 1
                headers = json.dumps(properties.headers or {}, default=str).encode()
                found |= _codes_in_bytes(body, wanted) | _codes_in_text(headers, wanted)
            # Closing the channel returns every unacknowledged message to its queue.
            channel.close()
            leaks.extend(Leak(f"queue {queue}", code) for code in sorted(found))
    finally:
        connection.close()
    return leaks, report


def scan_logs(paths: Iterable[Path], codes: Iterable[str]) -> tuple[list[Leak], ScanReport]:
    wanted = _as_bytes(codes)
    report = ScanReport(codes=len(wanted))
    leaks: list[Leak] = []
    for path in paths:
        if not path.exists():
            continue
        blob = path.read_bytes()
        report.logs += 1
        report.log_bytes += len(blob)
        leaks.extend(Leak(f"log {path}", code) for code in sorted(_codes_in_text(blob, wanted)))
    return leaks, report
