"""Malformed input the attacker's probes sent is a 400 before any handler or query runs.

Deep JSON, NUL and other control characters in paths and queries, lone surrogates:
each once answered 500 (a ``RecursionError`` or PostgreSQL refusing the value).
"""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from api.input_guard import MAX_JSON_DEPTH, json_depth_exceeds
from core.platform.runtime import Runtime
from tests.factories import bootstrapped_admin_headers


def _full_access(runtime: Runtime, engine: Engine) -> dict[str, str]:
    return bootstrapped_admin_headers(runtime, engine, "hostile-admin")


def _invalid_request(response: object) -> dict[str, object]:
    assert getattr(response, "status_code", None) == 400
    error: dict[str, object] = response.get_json()["Errors"][0]  # type: ignore[attr-defined]
    assert error["ErrorCode"] == "InvalidRequest"
    data: dict[str, object] = error["Data"]  # type: ignore[assignment]
    return data


def _nested(levels: int) -> str:
    """A document ``levels`` deep: the object itself is level 1."""
    return '{"ClientID": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def test_3000_nested_arrays_sent_unauthenticated_are_a_400(api_client: FlaskClient) -> None:
    response = api_client.post(
        "/v1/password/onetimepassword",
        data=_nested(3000),
        headers={"Content-Type": "application/json"},
    )
    assert _invalid_request(response) == {
        "Field": None,
        "Reason": f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
    }


def test_xp_nested_to_the_bound_is_stored_and_one_level_more_is_a_400(
    api_client: FlaskClient, runtime: Runtime, committed_db: Engine
) -> None:
    headers = _full_access(runtime, committed_db)

    # {"ID", "Name", "xp": {"a": [[...]]}}: the body is level 1, xp level 2.
    def buyer(buyer_id: str, levels: int) -> str:
        inner = "[" * (levels - 2) + "]" * (levels - 2)
        return json.dumps({"ID": buyer_id, "Name": "n"})[:-1] + f', "xp": {{"a": {inner}}}}}'

    at_bound = api_client.post("/v1/buyers", data=buyer("deep1", MAX_JSON_DEPTH), headers=headers)
    over = api_client.post("/v1/buyers", data=buyer("deep2", MAX_JSON_DEPTH + 1), headers=headers)
    assert at_bound.status_code == 201
    assert _invalid_request(over)["Reason"] == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    assert api_client.get("/v1/buyers/deep2", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/buyers/a%00b"),
        ("GET", "/v1/buyers/A/users/a%00b"),
        ("POST", "/v1/messagesenders/a%00b/preview"),
        ("DELETE", "/v1/buyers/a%01b"),
        ("PUT", "/v1/messagesenders/a%0Ab"),
    ],
)
def test_a_control_character_in_a_path_is_a_400_naming_the_path(
    api_client: FlaskClient, runtime: Runtime, committed_db: Engine, method: str, path: str
) -> None:
    headers = _full_access(runtime, committed_db)
    response = api_client.open(path, method=method, data="{}", headers=headers)
    assert _invalid_request(response)["Field"] == "path"


def test_a_nul_in_a_path_is_refused_before_authentication(api_client: FlaskClient) -> None:
    assert _invalid_request(api_client.get("/v1/buyers/a%00b"))["Field"] == "path"


def test_a_control_character_in_a_query_value_is_a_400(
    api_client: FlaskClient, runtime: Runtime, committed_db: Engine
) -> None:
    headers = _full_access(runtime, committed_db)
    response = api_client.get("/v1/buyers?search=a%1Bb", headers=headers)
    assert _invalid_request(response) == {
        "Field": "search",
        "Reason": "control characters are not allowed",
    }


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff"])
def test_a_lone_surrogate_in_a_body_is_a_400(api_client: FlaskClient, escape: str) -> None:
    response = api_client.post(
        "/v1/password/onetimepassword",
        data=f'{{"ClientID": "abc{escape}", "Username": "someone"}}',
        headers={"Content-Type": "application/json"},
    )
    assert _invalid_request(response) == {
        "Field": "ClientID",
        "Reason": "unpaired surrogates are not allowed",
    }


def test_depth_counts_brackets_outside_strings_only() -> None:
    brackets_in_text = json.dumps({"Name": "[" * 100}).encode()
    assert not json_depth_exceeds(brackets_in_text, 2)
    assert json_depth_exceeds(b'{"a": [[1]]}', 2)
    assert not json_depth_exceeds(b'{"a": [[1]]}', 3)
    assert not json_depth_exceeds(b'{"a": "\\"[[[[", "b": [1]}', 2)
