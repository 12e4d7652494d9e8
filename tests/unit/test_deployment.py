"""compose.yaml, deploy/nginx.conf, Dockerfile and .env.example, checked by parsing them
(Docker does not run on the machines that test this project)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.serve import GRACEFUL_TIMEOUT_SECONDS
from core.messaging.routes import DELIVER_EMAIL, DELIVER_WEBHOOK, REQUESTS_QUEUE
from core.platform.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("api", "token", "worker-fanout", "worker-delivery")
ONE_SHOT_SERVICES = ("keys", "migrate")
LONG_RUNNING = ("postgres", "rabbitmq", "mailpit", *APP_SERVICES, "edge")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


def test_compose_has_every_service_of_the_deployment(services: dict[str, Any]) -> None:
    assert set(services) == {*LONG_RUNNING, *ONE_SHOT_SERVICES}


def test_every_long_running_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        test = services[name].get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, name


def test_api_and_token_are_healthy_only_when_ready_and_workers_when_metrics_answer(
    services: dict[str, Any],
) -> None:
    for name, port in (("api", 8000), ("token", 8001)):
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in probe
        assert "urllib.request" in probe  # the slim image has no curl
        assert f"0.0.0.0:{port}" in services[name]["command"]
    for name in ("worker-fanout", "worker-delivery"):
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert "OTP_WORKER_METRICS_PORT" in probe and "/metrics" in probe


def test_dependencies_wait_for_health_or_completion(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            expected = (
                "service_completed_successfully"
                if dependency in ONE_SHOT_SERVICES
                else "service_healthy"
            )
            assert rule == {"condition": expected}, (name, dependency)
    for name in APP_SERVICES:
        assert {"keys", "migrate"} <= set(services[name]["depends_on"]), name
    assert set(services["edge"]["depends_on"]) == {"api", "token"}


def test_workers_listen_on_their_own_queues(services: dict[str, Any]) -> None:
    def queues(name: str) -> list[str]:
        command: list[str] = services[name]["command"]
        return command[command.index("--queues") + 1 : command.index("--processes")]

    assert queues("worker-fanout") == [REQUESTS_QUEUE]
    assert queues("worker-delivery") == [DELIVER_WEBHOOK.queue_name, DELIVER_EMAIL.queue_name]


def test_scalable_services_have_no_fixed_name_or_host_port(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name


def test_app_services_share_one_image_and_stop_after_their_grace_period(
    services: dict[str, Any],
) -> None:
    for name in (*APP_SERVICES, *ONE_SHOT_SERVICES):
        assert services[name]["image"] == "otp-service:local", name
        env_files = [entry["path"] for entry in services[name]["env_file"]]
        assert env_files[0] == ".env.example", name
    for name in ("api", "token"):
        assert seconds(services[name]["stop_grace_period"]) > GRACEFUL_TIMEOUT_SECONDS


def nginx_locations(config: str) -> Iterator[tuple[str, str]]:
    for match in re.finditer(r"location\s+(=\s*)?(\S+)\s*\{([^}]*)\}", config):
        yield match.group(2), match.group(3)


def test_the_edge_sends_oauth_and_well_known_to_token_and_the_rest_to_api() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    routes: Mapping[str, str] = dict(nginx_locations(config))
    assert "proxy_pass $token_upstream" in routes["/oauth/"]
    assert "proxy_pass $token_upstream" in routes["/.well-known/"]
    assert "proxy_pass $api_upstream" in routes["/"]
    assert "return 404" in routes["/metrics"]
    assert "set $api_upstream http://api:8000;" in config
    assert "set $token_upstream http://token:8001;" in config
    assert "proxy_set_header X-Request-Id $request_id;" in config


def test_the_edge_access_log_never_records_query_strings() -> None:
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    log_format = re.search(r"log_format[^;]*;", config)
    assert log_format is not None
    assert "$uri" in log_format.group(0)
    # $request is the whole request line; $request_uri, $args, $arg_* hold the query string.
    unsafe = re.compile(r"\$(request|request_uri|args|arg_\w+|query_string)(?![\w])")
    assert unsafe.search(log_format.group(0)) is None


def test_every_env_example_variable_is_a_setting_and_every_setting_is_listed(
    env_example: dict[str, str],
) -> None:
    class Recording(dict[str, str]):
        read: set[str]

        def get(self, key: str, default: Any = None) -> Any:
            self.read.add(key)
            return super().get(key, default)

    environ = Recording(
        env_example,
        OTP_JWT_PRIVATE_KEY="inline-pem-for-this-test",
        OTP_SECRET_KEY="inline-secret-for-this-test-0123456789abcdef",
    )
    environ.read = set()
    load_settings(environ)
    assert set(env_example) == environ.read


def test_the_image_is_slim_non_root_and_installs_no_dev_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and all("[" not in line for line in installs)
