"""The api's correlation ids, access log and metrics, on a real app with its real services."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from tests.logs import capture_json_log

SECRET_PASSWORD = "Pa55-word-never-logged"
SECRET_OTP = "73190482"
SECRET_QUERY = "query-value-never-logged"
SECRET_BEARER = "bearer-never-logged"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged by any logger during the test, as the production JSON lines."""
    with capture_json_log(logging.DEBUG) as stream:
        yield stream


def access_lines(stream: io.StringIO) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [entry for entry in entries if entry["logger"] == "otp.access"]


def test_a_valid_incoming_request_id_is_echoed_and_logged_beside_a_correlation_id_of_ours(
    api_client: FlaskClient, json_log: io.StringIO
) -> None:
    response = api_client.get("/healthz", headers={"X-Request-Id": "edge-req-0001"})
    assert response.headers["X-Request-Id"] == "edge-req-0001"
    (line,) = access_lines(json_log)
    assert line["caller_request_id"] == "edge-req-0001"
    assert line["correlation_id"] != "edge-req-0001"
    assert len(line["correlation_id"]) == 32
    assert line["route"] == "/healthz"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)


def test_a_correlation_id_header_is_accepted_too(api_client: FlaskClient) -> None:
    response = api_client.get("/healthz", headers={"X-Correlation-Id": "upstream:77"})
    assert response.headers["X-Request-Id"] == "upstream:77"


def test_an_unsafe_incoming_request_id_is_replaced_by_a_fresh_one(
    api_client: FlaskClient, json_log: io.StringIO
) -> None:
    hostile = 'x" injected=1 fake="line'
    response = api_client.get("/healthz", headers={"X-Request-Id": hostile})
    assert "X-Request-Id" not in response.headers
    assert "injected" not in json_log.getvalue()
    issued = access_lines(json_log)[0]["correlation_id"]
    assert issued != hostile
    assert len(issued) == 32


def test_every_request_without_an_id_gets_a_different_one_that_is_not_echoed(
    api_client: FlaskClient, json_log: io.StringIO
) -> None:
    responses = [api_client.get("/healthz") for _ in range(5)]
    assert all("X-Request-Id" not in response.headers for response in responses)
    ids = {line["correlation_id"] for line in access_lines(json_log)}
    assert len(ids) == 5


def test_the_access_log_never_contains_form_body_query_or_credential_values(
    api_client: FlaskClient, json_log: io.StringIO
) -> None:
    api_client.post(
        f"/v1/password/onetimepassword?password={SECRET_QUERY}",
        data={"username": "alice", "password": SECRET_PASSWORD, "code": SECRET_OTP},
        headers={"Authorization": f"Bearer {SECRET_BEARER}"},
    )
    api_client.post(
        f"/oauth/token?otp={SECRET_QUERY}",
        json={"Username": "alice", "Password": SECRET_PASSWORD, "Otp": SECRET_OTP},
    )
    api_client.delete(f"/healthz?password={SECRET_QUERY}", data={"password": SECRET_PASSWORD})
    output = json_log.getvalue()
    lines = access_lines(json_log)
    assert len(lines) == 3
    for secret in (SECRET_PASSWORD, SECRET_OTP, SECRET_QUERY, SECRET_BEARER, "alice"):
        assert secret not in output
    assert lines[-1]["status"] == 405
    assert lines[-1]["route"] == "<unmatched>"


def test_unmatched_paths_are_logged_and_counted_under_one_route_label(
    api_client: FlaskClient, json_log: io.StringIO
) -> None:
    api_client.get("/v1/some/random/path-12345")
    (line,) = access_lines(json_log)
    assert line["route"] == "<unmatched>"
    assert line["status"] == 404
    metrics = api_client.get("/metrics").get_data(as_text=True)
    assert "path-12345" not in metrics
    assert 'route="<unmatched>"' in metrics


def test_metrics_count_requests_by_route_template_method_and_status(
    api_client: FlaskClient,
) -> None:
    def healthz_count() -> float:
        text = api_client.get("/metrics").get_data(as_text=True)
        prefix = (
            'otp_http_requests_total{method="GET",route="/healthz",service="api",status="200"} '
        )
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line.removeprefix(prefix))
        return 0.0

    before = healthz_count()
    for _ in range(3):
        api_client.get("/healthz")
    assert healthz_count() == before + 3
    response = api_client.get("/metrics")
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert "otp_http_request_duration_seconds_bucket" in text
    assert "# HELP otp_requests_total" in text
    assert "# HELP otp_request_to_delivery_seconds" in text
