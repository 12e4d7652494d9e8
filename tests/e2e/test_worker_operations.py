"""Worker processes under the dramatiq CLI: one metrics port, correlation ids in the logs."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import dramatiq
import httpx
import pytest

from core.messaging.broker import build_broker
from core.platform.correlation import bind_correlation_id, unbind_correlation_id
from core.platform.settings import Settings
from tests.observed_worker import ACTOR, QUEUE
from tests.processes import free_port, started

pytestmark = pytest.mark.e2e


def sample(text: str, prefix: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.removeprefix(prefix + " "))
    return None


def test_one_worker_metrics_port_sums_dramatiq_and_domain_metrics_of_every_process(
    tmp_path: Path, settings: Settings, broker_url: str
) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTP_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        OTP_BROKER_URL=broker_url,
        OTP_WORKER_METRICS_PORT=str(port),
        OTP_LOG_FORMAT="json",
        OTP_BLOCKED_TARGET_NETWORKS="none",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    publisher = build_broker(settings)
    publisher.declare_queue(QUEUE)
    command = [sys.executable, "-m", "tests.observed_worker"]
    with started(command, env=env) as process:
        for index in range(6):
            token = bind_correlation_id(f"corr-worker-{index}")
            try:
                publisher.enqueue(dramatiq.Message(QUEUE, ACTOR, ("webhook",), {}, {}))
            finally:
                unbind_correlation_id(token)
        publisher.close()

        processed = f'dramatiq_messages_total{{actor_name="{ACTOR}",queue_name="{QUEUE}"}}'
        delivered = 'otp_deliveries_total{channel="webhook",outcome="delivered"}'
        deadline = time.monotonic() + 90
        text = ""
        while time.monotonic() < deadline and process.poll() is None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.TransportError:
                text = ""
            if sample(text, processed) == 6.0:
                break
            time.sleep(0.2)
        assert sample(text, processed) == 6.0, process.output()
        assert sample(text, delivered) == 6.0
        assert sample(text, 'otp_request_to_delivery_seconds_count{channel="webhook"}') == 6.0
        writers = {path.stem.rsplit("_", 1)[1] for path in (tmp_path / "metrics").glob("*.db")}
        assert len(writers) >= 2  # both worker processes opened their sample files

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        output = process.output()
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    worker_lines = [entry for entry in entries if entry["logger"] == "otp.test.worker"]
    assert sorted(entry["correlation_id"] for entry in worker_lines) == [
        f"corr-worker-{index}" for index in range(6)
    ]
