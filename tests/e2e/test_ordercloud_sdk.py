"""OrderCloud's own JavaScript SDK, unchanged, against the real deployables on one origin.

``ordercloud-javascript-sdk`` (the version ``tests/e2e/sdk/package.json`` pins) is
installed from npm into a cache folder the first time; ``tests/e2e/sdk/drive.cjs`` runs one
check per SDK method. The methods that pass must be exactly those ``docs/ordercloud-sdk.md``
marks as claimed, and the table must name every SDK method of the resources it covers, so
the documentation and the service cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import TEST_SECRET_KEY
from tests.factories import hasher, make_client, make_profile, make_user
from tests.one_origin import one_origin
from tests.processes import free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SDK_FOLDER = Path(__file__).resolve().parent / "sdk"
DOC = ROOT / "docs" / "ordercloud-sdk.md"
ADMIN_PASSWORD = "Admin-Password-42"
CLIENT_SECRET = "admin-client-secret-0123456789"
_ROW = re.compile(r"^\|\s*`(?P<method>[A-Za-z]+\.[A-Za-z]+)`\s*\|\s*(?P<status>[^|]+?)\s*\|")


def documented_methods(text: str) -> dict[str, bool]:
    """``{"Buyers.List": True, ...}`` from the doc's table: claimed or not, per method."""
    table: dict[str, bool] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            status = match["status"].lower()
            assert status in ("claimed", "not claimed"), f"unknown status in: {line}"
            assert match["method"] not in table, f"listed twice: {match['method']}"
            table[match["method"]] = status == "claimed"
    return table


def sdk_cache() -> Path:
    """The npm packages of ``sdk/package.json``, installed once into a cache folder."""
    manifest = (SDK_FOLDER / "package.json").read_bytes()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    folder = base / "otp-service" / f"ordercloud-sdk-{hashlib.sha256(manifest).hexdigest()[:12]}"
    if (folder / "node_modules" / "ordercloud-javascript-sdk" / "package.json").exists():
        return folder
    npm = shutil.which("npm")
    assert npm is not None, "npm (Node.js) is needed to install OrderCloud's JavaScript SDK"
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "package.json").write_bytes(manifest)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--omit=dev"],
        cwd=partial,
        check=True,
        capture_output=True,
        timeout=600,
    )
    try:
        partial.rename(folder)  # another session may have finished first: keep theirs
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class Marketplace:
    admin_client: str  # AllowSeller
    secret_client: str  # AllowSeller, with a secret and the admin as default context user
    storefront: str  # AllowAnyBuyer, refresh tokens on
    admin_username: str


@pytest.fixture
def marketplace(committed_db: Engine) -> Marketplace:
    with Session(committed_db) as session:
        admin = make_user(session, password=ADMIN_PASSWORD)
        make_profile(session, roles=["FullAccess"], marketplace=True)
        admin_client = make_client(session, app_name="Admin console", allow_seller=True)
        secret_client = make_client(
            session,
            app_name="Integration",
            allow_seller=True,
            client_secret_hash=hasher().hash(CLIENT_SECRET),
            default_context_username=admin.username,
        )
        storefront = make_client(
            session, app_name="Storefront", allow_any_buyer=True, refresh_token_duration=60
        )
        marketplace = Marketplace(admin_client.id, secret_client.id, storefront.id, admin.username)
        session.commit()
    return marketplace


@pytest.fixture
def origin(
    committed_db: Engine, database_url: str, clean_broker: str, jwt_private_key: str
) -> Iterator[str]:
    """``otp api``, ``otp token`` and ``otp worker`` behind one base URL."""
    env = {
        **os.environ,
        "OTP_DATABASE_URL": database_url,
        "OTP_BROKER_URL": clean_broker,
        "OTP_SECRET_KEY": TEST_SECRET_KEY,
        "OTP_JWT_PRIVATE_KEY": jwt_private_key,
        "OTP_IP_RATE_LIMIT": "0",
        "OTP_LOG_FORMAT": "json",
        "OTP_WORKER_METRICS_PORT": "0",
        "OTP_BLOCKED_TARGET_NETWORKS": "none",  # the SDK script's webhook is on loopback
    }
    api_port, token_port = free_port(), free_port()
    api, token = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{token_port}"
    with (
        started(
            otp_command("api", "--bind", f"127.0.0.1:{api_port}", "--workers", "1"), env=env
        ) as api_process,
        started(
            otp_command("token", "--bind", f"127.0.0.1:{token_port}", "--workers", "1"), env=env
        ) as token_process,
        started(otp_command("worker", "--processes", "1", "--threads", "2"), env=env),
    ):
        wait_until_healthy(api, api_process)
        wait_until_healthy(token, token_process)
        with one_origin(api, token) as base_url:
            yield base_url


def drive_sdk(
    base_url: str, marketplace: Marketplace
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The SDK's method list, and each check's outcome by method."""
    node = shutil.which("node")
    assert node is not None, "node (Node.js) is needed to run OrderCloud's JavaScript SDK"
    context = {
        "baseApiUrl": base_url,
        "clientID": marketplace.admin_client,
        "secretClientID": marketplace.secret_client,
        "clientSecret": CLIENT_SECRET,
        "adminUsername": marketplace.admin_username,
        "adminPassword": ADMIN_PASSWORD,
        "storefrontID": marketplace.storefront,
    }
    finished = subprocess.run(
        [node, str(SDK_FOLDER / "drive.cjs"), json.dumps(context)],
        env={**os.environ, "NODE_PATH": str(sdk_cache() / "node_modules")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    lines = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    header = lines[0]
    assert header["version"].startswith("12."), header["version"]
    outcomes = {line["method"]: line for line in lines[1:]}
    if os.environ.get("OTP_SDK_OUTCOMES"):  # for whoever updates the docs' table
        Path(os.environ["OTP_SDK_OUTCOMES"]).write_text(json.dumps(outcomes, indent=1))
    return header["sdk"], outcomes


def test_the_sdk_methods_claimed_in_the_docs_are_exactly_those_that_work(
    origin: str, marketplace: Marketplace
) -> None:
    table = documented_methods(DOC.read_text())
    sdk_methods, outcomes = drive_sdk(origin, marketplace)

    assert "(driver)" not in outcomes, outcomes.get("(driver)")
    # The table names every SDK method of the resources it covers, and nothing else.
    assert sorted(table) == sdk_methods
    # Every method has a check (the driver stops early when the admin cannot sign in).
    failures = {method: line["error"] for method, line in outcomes.items() if not line["ok"]}
    assert sorted(outcomes) == sdk_methods, failures

    claimed_but_failing = {
        method: outcomes[method]["error"]
        for method, claimed in table.items()
        if claimed and not outcomes[method]["ok"]
    }
    working_but_unclaimed = sorted(
        method for method, claimed in table.items() if not claimed and outcomes[method]["ok"]
    )
    assert claimed_but_failing == {}
    assert working_but_unclaimed == []
    # The core of what the service is for is among the claims.
    for method in (
        "ForgottenCredentials.SendOneTimePassword",
        "Auth.Login",
        "Me.Get",
        "Users.List",
    ):
        assert table[method], method


def test_the_docs_table_is_read_as_written() -> None:
    table = documented_methods(
        "| method | status | notes |\n|---|---|---|\n"
        "| `Buyers.List` | claimed | x |\n| `Buyers.Move` | not claimed | why |\n"
    )
    assert table == {"Buyers.List": True, "Buyers.Move": False}
    with pytest.raises(AssertionError):
        documented_methods("| `Buyers.List` | maybe | x |\n")
