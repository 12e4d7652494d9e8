"""compose.yaml's app services, run as local processes (this machine cannot run Docker).

Each service's own ``command`` runs with the compose environment (``.env.example`` plus the
service's ``environment``), pointed at this machine's PostgreSQL (a fresh database) and
RabbitMQ (the test vhost), the signing key written by compose's own ``keys`` one-shot into
a temporary directory, and each listening port moved to a free one. Each is judged by its
own compose health check. Then one OTP flow goes through them: bootstrap, admin API, OTP
request, webhook, OTP login; then their metrics and their logs are checked.

The ``edge`` (nginx) does not run here: there is no nginx on this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests import services
from tests.processes import Process, free_port, started
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("api", "token", "worker-fanout", "worker-delivery")
ADMIN_PASSWORD = "compose-Admin-pa55word"
CALLER_REQUEST_ID = "compose-e2e-caller-1"
SECRETS_IN_COMPOSE = "/run/secrets"
WAIT_SECONDS = 60.0


def compose_services() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "compose.yaml").read_text())[
        "services"
    ]
    return loaded


def env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


@dataclass
class LocalService:
    """One compose service as a local process: its command, environment and port."""

    name: str
    command: list[str]
    env: dict[str, str]
    healthcheck: list[str] = field(default_factory=list)
    port: int | None = None  # where it serves HTTP (api, token) or worker metrics
    process: Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        assert self.process is not None
        return self.process.output()


def local_service(
    name: str, spec: dict[str, Any], *, overrides: dict[str, str], key_dir: Path
) -> LocalService:
    """The service's command and health check with only ports and paths made local."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTP_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    # The project's own `otp` and `python` come first, as in the image.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(env_example())
    env.update({key: str(value) for key, value in spec.get("environment", {}).items()})
    env.update(overrides)
    for key_file_setting in ("OTP_JWT_PRIVATE_KEY", "OTP_SECRET_KEY"):
        env[key_file_setting] = env[key_file_setting].replace(SECRETS_IN_COMPOSE, str(key_dir))
    command = [part.replace(SECRETS_IN_COMPOSE, str(key_dir)) for part in spec["command"]]
    command[0] = shutil.which(command[0], path=env["PATH"]) or command[0]
    service = LocalService(name, command, env)
    test = spec.get("healthcheck", {}).get("test", [])
    if test:
        assert test[0] == "CMD", test
        service.healthcheck = [sys.executable if part == "python" else part for part in test[1:]]
    if "--bind" in command:
        service.port = free_port()
        index = command.index("--bind") + 1
        compose_port = command[index].rsplit(":", 1)[1]
        command[index] = f"127.0.0.1:{service.port}"
        service.healthcheck = [
            part.replace(f"127.0.0.1:{compose_port}/", f"127.0.0.1:{service.port}/")
            for part in service.healthcheck
        ]
    elif "worker" in command:
        service.port = free_port()
        env["OTP_WORKER_METRICS_PORT"] = str(service.port)
    return service


def run_one_shot(service: LocalService) -> None:
    result = subprocess.run(
        service.command, env=service.env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, (service.name, result.stderr)


def wait_until_healthy(service: LocalService) -> None:
    """Run the service's own compose health check until it passes."""
    assert service.process is not None
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"{service.name} exited:\n{service.output()}")
        check = subprocess.run(
            service.healthcheck, env=service.env, capture_output=True, timeout=30, check=False
        )
        if check.returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{service.name} never passed its health check:\n{service.output()}")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return parsed


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def scrape(service: LocalService) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return samples(httpx.get(f"{service.base_url}/metrics", timeout=10).text)


def json_lines(output: str) -> list[dict[str, Any]]:
    entries = []
    for line in output.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        with contextlib.suppress(ValueError):
            entry = json.loads(line[start:])
            if isinstance(entry, dict) and "correlation_id" in entry:
                entries.append(entry)
    return entries


@pytest.fixture
def compose_database() -> Iterator[str]:
    """An empty database: compose's migrate one-shot is what creates the schema."""
    with services.postgres_server_url() as server, services.fresh_database(server) as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def test_every_compose_command_starts_passes_its_health_check_and_serves_one_otp_flow(
    tmp_path: Path, compose_database: str, clean_broker: str, receiver: WebhookReceiver
) -> None:
    specs = compose_services()
    overrides = {
        "OTP_DATABASE_URL": compose_database,
        "OTP_BROKER_URL": clean_broker,
        "OTP_BLOCKED_TARGET_NETWORKS": "none",  # the receiver listens on loopback
    }
    made = {
        name: local_service(name, specs[name], overrides=overrides, key_dir=tmp_path)
        for name in ("keys", "migrate", *LONG_RUNNING)
    }
    run_one_shot(made["keys"])
    assert (tmp_path / "jwt-private-key.pem").exists()
    run_one_shot(made["migrate"])

    with contextlib.ExitStack() as stack:
        for name in LONG_RUNNING:
            made[name].process = stack.enter_context(
                started(made[name].command, env=made[name].env, stop_timeout=45)
            )
        for name in LONG_RUNNING:
            wait_until_healthy(made[name])
        api, token = made["api"], made["token"]
        fanout, delivery = made["worker-fanout"], made["worker-delivery"]

        flow = run_otp_flow(made["migrate"], api, token, receiver)

        # Every counter the flow should have moved, parsed with prometheus_client.
        api_metrics = scrape(api)
        assert value(api_metrics, "otp_requests_total", outcome="accepted", reason="none") == 1
        assert (
            value(
                api_metrics,
                "otp_http_requests_total",
                service="api",
                route="/v1/password/onetimepassword",
                method="POST",
                status="204",
            )
            == 1
        )
        token_metrics = scrape(token)
        assert (
            value(
                token_metrics,
                "otp_token_grants_total",
                grant_type="password",
                outcome="granted",
                credential="otp",
            )
            == 1
        )
        fanout_metrics = scrape(fanout)
        assert value(fanout_metrics, "otp_passwords_issued_total") == 1
        assert (
            value(
                fanout_metrics,
                "dramatiq_messages_total",
                actor_name="issue_otps",
                queue_name="otp.requests",
            )
            == 1
        )
        delivery_metrics = wait_for_metric(
            delivery, "otp_deliveries_total", channel="webhook", outcome="delivered"
        )
        assert (
            value(delivery_metrics, "otp_request_to_delivery_seconds_count", channel="webhook") == 1
        )

        for name in LONG_RUNNING:
            process = made[name].process
            assert process is not None
            process.send_signal(signal.SIGTERM)
        for name in LONG_RUNNING:
            process = made[name].process
            assert process is not None
            assert process.wait(timeout=60) == 0, (name, made[name].output())

    outputs = {name: made[name].output() for name in LONG_RUNNING}
    for name, output in outputs.items():
        assert flow.code not in output, f"the OTP reached a log line of {name}"
    # One correlation id from the HTTP request to the OTP login: the OTP request's id.
    flow_lines = {
        name: [entry for entry in json_lines(output) if entry["correlation_id"] == flow.request_id]
        for name, output in outputs.items()
    }
    api_messages = {entry["message"] for entry in flow_lines["api"]}
    assert f"otp request {flow.request_id} accepted" in api_messages
    assert "POST /v1/password/onetimepassword 204" in api_messages
    assert all(entry["caller_request_id"] == CALLER_REQUEST_ID for entry in flow_lines["api"])
    assert "OTP request handled" in {entry["message"] for entry in flow_lines["worker-fanout"]}
    assert "delivery attempt finished" in {
        entry["message"] for entry in flow_lines["worker-delivery"]
    }
    token_messages = {entry["message"] for entry in flow_lines["token"]}
    assert {"signed in with a one-time password", "POST /oauth/token 200"} <= token_messages


@dataclass(frozen=True)
class Flow:
    request_id: str
    code: str


def run_otp_flow(
    cli: LocalService, api: LocalService, token: LocalService, receiver: WebhookReceiver
) -> Flow:
    """Bootstrap an admin, set up a marketplace through the admin API, request and use an OTP."""
    bootstrap = subprocess.run(
        [cli.command[0], "bootstrap", "--username", "admin", "--password", ADMIN_PASSWORD],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bootstrap.returncode == 0, bootstrap.stderr
    admin_client_id = json.loads(bootstrap.stdout)["ClientID"]
    granted = httpx.post(
        f"{token.base_url}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": admin_client_id,
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    assert granted.status_code == 200, granted.text
    admin = httpx.Client(
        base_url=api.base_url,
        headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
        timeout=30,
    )
    with admin:
        for path, body in (
            ("/v1/buyers", {"ID": "b1", "Name": "Buyer"}),
            (
                "/v1/buyers/b1/users",
                {
                    "ID": "u1",
                    "Username": "shopper-1",
                    "FirstName": "S",
                    "LastName": "One",
                    "Email": "shopper-1@example.com",
                },
            ),
            ("/v1/securityprofiles", {"ID": "shop", "Name": "Shop", "Roles": ["Shopper"]}),
            ("/v1/securityprofiles/assignments", {"SecurityProfileID": "shop", "BuyerID": "b1"}),
            (
                "/v1/messagesenders",
                {
                    "ID": "hook",
                    "Name": "Hook",
                    "MessageTypes": ["OneTimePassword"],
                    "URL": f"{receiver.url}/otp",
                    "SharedKey": "compose-shared-key",
                },
            ),
            ("/v1/messagesenders/assignments", {"MessageSenderID": "hook"}),
            ("/v1/apiclients", {"ID": "store", "AppName": "Store", "AllowAnyBuyer": True}),
        ):
            answer = admin.post(path, json=body)
            assert answer.status_code in {200, 201, 204}, (path, answer.text)

    requested = httpx.post(
        f"{api.base_url}/v1/password/onetimepassword",
        json={"ClientID": "store", "Username": "shopper-1"},
        headers={"X-Request-Id": CALLER_REQUEST_ID},
    )
    assert requested.status_code == 204, requested.text
    (webhook,) = receiver.wait_for(1, timeout=WAIT_SECONDS)
    request_id: str = webhook.json()["OcLogIdHeader"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # ours, not the caller's
    login = httpx.post(
        f"{token.base_url}/oauth/token",
        data={
            "grant_type": "password",
            "client_id": "store",
            "username": "shopper-1",
            "password": webhook.code,
        },
    )
    assert login.status_code == 200, login.text
    return Flow(request_id=request_id, code=webhook.code)


def wait_for_metric(
    service: LocalService, name: str, **labels: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The worker counts a delivery just after the receiver answered: poll, bounded."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        scraped = scrape(service)
        if value(scraped, name, **labels) == 1 or time.monotonic() > deadline:
            assert value(scraped, name, **labels) == 1, (name, labels)
            return scraped
        time.sleep(0.2)
