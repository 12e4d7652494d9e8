from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e


def test_migrate_against_an_unreachable_database_says_so_in_one_line() -> None:
    result = subprocess.run(
        otp_command("migrate"),
        env={**os.environ, "OTP_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "database unreachable" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_bad_setting_stops_a_command_with_one_line_naming_it() -> None:
    result = subprocess.run(
        otp_command("migrate"),
        env={**os.environ, "OTP_DATABASE_URL": "sqlite://", "OTP_LENGTH": "99"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "otp migrate: OTP_LENGTH must be at most 12, got 99"
    ]


def test_migrate_and_bootstrap_against_postgres(committed_db: object, database_url: str) -> None:
    env = {**os.environ, "OTP_DATABASE_URL": database_url}
    subprocess.run(otp_command("migrate"), env=env, check=True, timeout=120, capture_output=True)
    outputs = [
        subprocess.run(
            otp_command("bootstrap", "--username", "ops", "--password", "s3cret-pass"),
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]
    assert set(json.loads(outputs[0])) == {"ClientID"}


def test_dev_mode_starts_with_no_services_and_answers_healthz(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTP_") or key.startswith("OTP_TEST_")
    }
    env["OTP_DEV_DIR"] = str(tmp_path / "dev")
    with started(otp_command("dev", "--port", str(port)), env=env, cwd=tmp_path) as process:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["status"] == "ok"
        assert (tmp_path / "dev" / "otp-dev.db").exists()
