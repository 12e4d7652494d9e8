"""PgBouncer of the test's own, in transaction mode, in front of the session's PostgreSQL.

Debian's ``pgbouncer`` (1.18 here, older than 1.21: it does not track prepared
statements), installed with apt-get when it is missing and the tests run as root (CI on
this kind of machine), run as a process of the test's own with its own ini on a free
loopback port. It never touches a system PgBouncer. PgBouncer refuses to run as root, so
as root it is started with ``-u postgres`` and its files are made readable to that user.
The server pool is smaller than the connections the app processes open to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.processes import free_port

SERVER_POOL_SIZE = 4  # server connections per database: fewer than the app opens
RUN_AS = "postgres"


def find_or_install() -> str | None:
    """The pgbouncer binary; installed with apt-get first when missing and we are root."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "pgbouncer"],
        env=env,
        capture_output=True,
        check=False,
        timeout=600,
    )
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


@dataclass
class PgBouncer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    server: tuple[str, int]  # the PostgreSQL it pools

    def url_for(self, database_url: str) -> str:
        """``database_url`` (SQLAlchemy form) through this PgBouncer."""
        parts = urlsplit(database_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def show(self, what: str) -> list[dict[str, object]]:
        """``SHOW <what>`` on PgBouncer's admin console, as dicts."""
        # The admin console takes the simple query protocol only: a client-side cursor.
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname="pgbouncer",
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        ) as console:
            cursor = console.cursor()
            cursor.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _ini(port: int, host: str, server_port: int, folder: Path) -> str:
    return f"""\
[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
admin_users = postgres
stats_users = postgres
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
max_db_connections = {SERVER_POOL_SIZE}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
"""


@contextlib.contextmanager
def running_pgbouncer(binary: str, database_url: str) -> Iterator[PgBouncer]:
    """Start PgBouncer in front of ``database_url``'s server; stop it after the block."""
    parts = urlsplit(database_url)
    host, server_port = parts.hostname or "127.0.0.1", parts.port or 5432
    folder = Path(tempfile.mkdtemp(prefix="otp-pgbouncer-"))
    port = free_port()
    (folder / "users.txt").write_text(f'"{parts.username or "postgres"}" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(_ini(port, host, server_port, folder))
    command = [binary, str(ini)]
    if os.geteuid() == 0:
        folder.chmod(0o755)
        command = [binary, "-u", RUN_AS, str(ini)]
    log_path = folder / "pgbouncer.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=sink, start_new_session=True)
    bouncer = PgBouncer(port=port, process=process, log_path=log_path, server=(host, server_port))
    try:
        _wait_until_listening(bouncer)
        yield bouncer
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_listening(bouncer: PgBouncer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bouncer.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited:\n{bouncer.output()}")
        try:
            bouncer.show("VERSION")
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise RuntimeError(f"pgbouncer did not listen in {timeout} s:\n{bouncer.output()}")
