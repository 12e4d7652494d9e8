"""``otp api`` as operations sees it: metrics over several workers, logs, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.processes import free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e

SECRET_PASSWORD = "e2e-Pa55word-never-logged"
SECRET_QUERY = "e2e-query-never-logged"


def api_env(database_url: str, broker_url: str, jwt_private_key: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTP_")}
    env.update(
        OTP_DATABASE_URL=database_url,
        OTP_BROKER_URL=broker_url,
        OTP_SECRET_KEY=TEST_SECRET_KEY,
        OTP_JWT_PRIVATE_KEY=jwt_private_key,
        OTP_LOG_FORMAT="json",
        OTP_BLOCKED_TARGET_NETWORKS="none",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def healthz_count(base_url: str) -> float:
    prefix = 'otp_http_requests_total{method="GET",route="/healthz",service="api",status="200"} '
    for line in httpx.get(f"{base_url}/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def test_metrics_sum_every_gunicorn_worker_and_start_from_an_emptied_directory(
    tmp_path: Path, database_url: str, broker_url: str, jwt_private_key: str
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale samples of a previous run")
    env = api_env(database_url, broker_url, jwt_private_key)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = otp_command("api", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "1")
    with started(command, env=env) as process:
        wait_until_healthy(base_url, process)
        assert not (metrics_dir / "counter_999999.db").exists()
        baseline = healthz_count(base_url)
        for _ in range(40):
            assert httpx.get(f"{base_url}/healthz").status_code == 200
        # Whichever worker answers the scrape, it reports what both workers counted.
        assert {healthz_count(base_url) for _ in range(10)} == {baseline + 40}
        writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
        assert len(writers) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


def test_the_access_log_of_a_running_api_is_json_without_any_submitted_value(
    tmp_path: Path, database_url: str, broker_url: str, jwt_private_key: str
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = otp_command("api", "--bind", f"127.0.0.1:{port}", "--workers", "1")
    with started(command, env=api_env(database_url, broker_url, jwt_private_key)) as process:
        wait_until_healthy(base_url, process)
        response = httpx.post(
            f"{base_url}/v1/password/onetimepassword?Password={SECRET_QUERY}",
            data={"Username": "bob", "Password": SECRET_PASSWORD},
            headers={"X-Request-Id": "e2e-trace-1"},
        )
        assert response.headers["X-Request-Id"] == "e2e-trace-1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        output = process.output()
    assert SECRET_PASSWORD not in output
    assert SECRET_QUERY not in output
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (access,) = [entry for entry in entries if entry.get("caller_request_id") == "e2e-trace-1"]
    assert access["logger"] == "otp.access"
    assert access["method"] == "POST"
    assert access["status"] == response.status_code


class SilentBroker:
    """A TCP port that accepts AMQP connections and answers nothing until released, so a
    readiness probe against it stays in flight for as long as the test wants."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            self.connected.set()

    def release(self) -> None:
        for connection in self.connections:
            connection.close()
        self.listener.close()


@pytest.fixture
def silent_broker() -> Iterator[SilentBroker]:
    broker = SilentBroker()
    yield broker
    broker.release()


def test_sigterm_lets_an_in_flight_request_finish_and_the_api_exits_zero(
    tmp_path: Path, database_url: str, jwt_private_key: str, silent_broker: SilentBroker
) -> None:
    socket_path = tmp_path / "api.sock"
    env = api_env(database_url, f"amqp://guest:guest@127.0.0.1:{silent_broker.port}/%2F", "")
    env["OTP_JWT_PRIVATE_KEY"] = jwt_private_key
    command = otp_command("api", "--bind", f"unix:{socket_path}", "--workers", "1")
    transport = httpx.HTTPTransport(uds=str(socket_path))
    answers: list[httpx.Response] = []
    with (
        httpx.Client(transport=transport, timeout=60) as client,
        started(command, env=env) as process,
    ):
        deadline = time.monotonic() + 60
        while not socket_path.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("http://api/healthz").status_code == 200

        probe = threading.Thread(target=lambda: answers.append(client.get("http://api/readyz")))
        probe.start()
        assert silent_broker.connected.wait(timeout=30), "the probe never reached the broker"

        process.send_signal(signal.SIGTERM)
        # gunicorn removes its unix socket when it starts stopping: from here on the
        # request is in flight during a shutdown.
        while socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not socket_path.exists()
        assert process.poll() is None

        silent_broker.release()
        probe.join(timeout=60)
        assert process.wait(timeout=60) == 0
    (answer,) = answers
    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"].startswith("broker unreachable")
