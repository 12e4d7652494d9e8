"""The attacker's probes replayed against a running ``otp api`` and the ``otp`` command."""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest

from tests.e2e.test_api_operations import api_env
from tests.processes import free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e

PROBES = [
    ("POST", "/v1/password/onetimepassword", '{"ClientID": ' + "[" * 3000 + "]" * 3000 + "}"),
    ("GET", "/v1/buyers/a%00b", None),
    ("GET", "/v1/buyers/A/users/a%00b", None),
    ("POST", "/v1/messagesenders/a%00b/preview", "{}"),
]


def test_each_probe_is_a_400_and_the_api_logs_no_traceback(
    database_url: str, broker_url: str, jwt_private_key: str
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = otp_command("api", "--bind", f"127.0.0.1:{port}", "--workers", "1")
    with started(command, env=api_env(database_url, broker_url, jwt_private_key)) as process:
        wait_until_healthy(base_url, process)
        answers = [
            httpx.request(
                method,
                f"{base_url}{path}",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            for method, path, body in PROBES
        ]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        log = process.output()
    statuses = [(answer.status_code, answer.json()["Errors"][0]["ErrorCode"]) for answer in answers]
    assert statuses == [(400, "InvalidRequest")] * len(PROBES)
    assert "/v1/buyers" in log  # the access log was written: the check below can fail
    assert "Traceback" not in log


def test_a_command_refuses_the_example_secret_key_in_one_line(database_url: str) -> None:
    env = api_env(database_url, "amqp://127.0.0.1:1/", "unused")
    env["OTP_SECRET_KEY"] = "change-me-change-me-change-me-change-me"
    result = subprocess.run(
        otp_command("migrate"), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("otp migrate: OTP_SECRET_KEY is the example value")
    assert result.stderr.count("\n") == 1
