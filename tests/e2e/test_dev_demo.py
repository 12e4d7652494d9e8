"""``otp dev --demo`` as a newcomer runs it: follow the printed commands, get a token."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import time
from pathlib import Path

import httpx
import pytest

from tests.processes import Process, free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e


def _printed_commands(process: Process) -> list[list[str]]:
    """The curl commands the demo printed, split as a shell would."""
    return [
        shlex.split(line.strip())
        for line in process.output().splitlines()
        if line.strip().startswith("curl ")
    ]


def _run_curl(http: httpx.Client, command: list[str]) -> httpx.Response:
    """What curl would send for ``-X POST URL [-H header] (-d data)...``: JSON or a form."""
    url = next(arg for arg in command if arg.startswith("http"))
    headers: dict[str, str] = {}
    data: list[str] = []
    for flag, value in itertools.pairwise(command):
        if flag == "-H":
            name, _, header_value = value.partition(":")
            headers[name.strip()] = header_value.strip()
        elif flag == "-d":
            data.append(value)
    if headers.get("Content-Type") == "application/json":
        return http.post(url, content="&".join(data), headers=headers)
    # curl joins several -d with '&' and sends application/x-www-form-urlencoded.
    return http.post(
        url,
        content="&".join(data),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def _wait_for_code(process: Process, username: str, timeout: float = 30.0) -> str:
    pattern = re.compile(rf"username:\s+{re.escape(username)}\n\s+password:\s+(\d+)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(process.output())
        if match:
            return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no code for {username} printed:\n{process.output()}")


def _dev_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTP_") or key.startswith("OTP_TEST_")
    }
    env["OTP_DEV_DIR"] = str(tmp_path / "dev")
    return env


def test_following_the_demo_s_printed_commands_gets_a_token_once_per_code(
    tmp_path: Path,
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = otp_command("dev", "--demo", "--port", str(port))
    with (
        started(command, env=_dev_env(tmp_path), cwd=tmp_path) as process,
        httpx.Client(timeout=30) as http,
    ):
        wait_until_healthy(base_url, process)
        request_otp, get_token = _printed_commands(process)

        assert _run_curl(http, request_otp).status_code == 204
        code = _wait_for_code(process, "sam")
        other_code = _wait_for_code(process, "sam.work")  # the same mailbox, its own code
        token_command = [arg.replace("password=CODE", f"password={code}") for arg in get_token]
        issued = _run_curl(http, token_command)
        replayed = _run_curl(http, token_command)

        assert issued.status_code == 200, issued.text
        access_token = issued.json()["access_token"]
        me = http.get(f"{base_url}/v1/me", headers={"Authorization": f"Bearer {access_token}"})
        assert me.json()["Username"] == "sam"
        assert other_code != code
        assert replayed.status_code == 400
        assert replayed.json()["Errors"][0]["ErrorCode"] == "Auth.InvalidUsernameOrPassword"

    # A restart on the same dev folder seeds nothing twice and still serves the demo.
    with (
        started(command, env=_dev_env(tmp_path), cwd=tmp_path) as process,
        httpx.Client(timeout=30) as http,
    ):
        wait_until_healthy(base_url, process)
        _, get_token = _printed_commands(process)
        with_password = [
            arg.replace("password=CODE", "password=demo-password-1") for arg in get_token
        ]
        assert _run_curl(http, with_password).status_code == 200
