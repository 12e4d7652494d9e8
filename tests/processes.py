"""Starting the real ``otp`` processes from tests."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx


def otp_command(*args: str) -> list[str]:
    """The ``otp`` console script, run by this interpreter (works from any checkout)."""
    return [sys.executable, "-m", "cli.main", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Ports the machine's own services use: never handed out.
_RESERVED_PORTS = {4369, 5432, 5672, 15672, 15692, 25672}


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ports_below_ephemeral_range(count: int) -> list[int]:
    """Free ports no outgoing connection can be given: for a listener that stops and
    must listen on the same port again (a fault proxy, a restarted broker node)."""
    low = 20000
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    chooser = random.Random()
    ports: list[int] = []
    while len(ports) < count:
        port = chooser.randrange(low, ephemeral_low - 1)
        if port not in _RESERVED_PORTS and port not in ports and _port_is_free(port):
            ports.append(port)
    return ports


class Process(subprocess.Popen[bytes]):
    """A started process whose combined output goes to ``log_path``."""

    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def started(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stop_timeout: float = 20.0,
) -> Iterator[Process]:
    """Run ``command`` for the duration of the block; SIGTERM (then SIGKILL) at the end."""
    with tempfile.NamedTemporaryFile(prefix="otp-process-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with log_path.open("wb") as sink:
        process = Process(command, env=dict(env or os.environ), cwd=cwd, stdout=sink, stderr=sink)
    process.log_path = log_path
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(base_url: str, process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}:\n{process.output()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url} did not become healthy in {timeout}s")
