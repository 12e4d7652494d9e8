"""Bad input on every admin write route: the contract's 400 body, never a 500."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.admin.conftest import AdminClient, error_of

_PARAMETER = re.compile(r"<(?:\w+:)?\w+>")
LONG = "x" * 256


def write_routes(admin: AdminClient) -> list[tuple[str, str]]:
    routes = []
    for rule in admin.client.application.url_map.iter_rules():
        # unlock takes no body and preview's is optional (test_message_preview covers it).
        if not rule.rule.startswith("/v1/") or rule.rule.endswith(("/unlock", "/preview")):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            routes.append((method, _PARAMETER.sub("x", rule.rule)))
    return routes


BAD_BODIES: list[tuple[str, bytes | str]] = [
    ("malformed", b'{"Name": "unterminated'),
    ("empty", b""),
    ("not an object", b"[1, 2, 3]"),
    ("a string", b'"Name"'),
    ("not UTF-8", b'{"Name": "\xff\xfe"}'),
    ("null", b"null"),
]


def test_malformed_bodies_are_400_on_every_write_route(admin: AdminClient) -> None:
    routes = write_routes(admin)
    assert len(routes) >= 20
    for method, path in routes:
        for label, body in BAD_BODIES:
            response = admin.request(
                method, path, roles=["FullAccess"], data=body, content_type="application/json"
            )
            assert response.status_code == 400, (method, path, label, response.json)
            assert error_of(response)["ErrorCode"] == "InvalidRequest"


WRONG_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/buyers", {"Name": 5}, "Name"),
    ("/v1/buyers", {"Name": LONG}, "Name"),
    ("/v1/buyers", {"Name": "n", "Active": "yes"}, "Active"),
    ("/v1/buyers", {"Name": "n", "xp": []}, "xp"),
    ("/v1/buyers", {"ID": "has/slash", "Name": "n"}, "ID"),
    ("/v1/buyers", {"ID": LONG, "Name": "n"}, "ID"),
    ("/v1/apiclients", {"AppName": "a", "AccessTokenDuration": 601}, "AccessTokenDuration"),
    ("/v1/apiclients", {"AppName": "a", "AccessTokenDuration": "60"}, "AccessTokenDuration"),
    ("/v1/apiclients", {"AppName": "a", "ClientSecret": LONG}, "ClientSecret"),
    (
        "/v1/adminusers",
        {"Username": "u", "FirstName": "f", "LastName": "l", "Email": "no-at"},
        "Email",
    ),
    (
        "/v1/adminusers",
        {"Username": None, "FirstName": "f", "LastName": "l", "Email": "a@b"},
        "Username",
    ),
    ("/v1/securityprofiles", {"Name": "p", "Roles": "FullAccess"}, "Roles"),
    (
        "/v1/securityprofiles",
        {"Name": "p", "PasswordConfig": {"AllowedFailedAttempts": 0}},
        "PasswordConfig.AllowedFailedAttempts",
    ),
    ("/v1/messagesenders", {"Name": "s", "URL": "not a url", "SharedKey": "k"}, "URL"),
    (
        "/v1/messagesenders",
        {"Name": "s", "TemplateOverrides": {"body.txt": 1}},
        "TemplateOverrides.body.txt",
    ),
    (
        "/v1/integrations/deliveryconfig",
        {"Name": "d", "DeliveryTargets": {"Smtp": {"Host": "h", "From": "a@b", "Port": 70000}}},
        "DeliveryTargets.Smtp.Port",
    ),
    ("/v1/apiclients/assignments", {"ApiClientID": 1, "BuyerID": "b"}, "ApiClientID"),
]


def test_wrong_types_and_oversized_strings_name_the_field(admin: AdminClient) -> None:
    for path, body, field in WRONG_FIELDS:
        response = admin.post(path, json=body)
        assert response.status_code == 400, (path, body, response.json)
        error = error_of(response)
        assert error["ErrorCode"] == "InvalidRequest"
        assert error["Data"]["Field"] == field, (path, error)
        assert LONG not in response.data.decode()  # the input is never echoed


def test_patch_with_null_for_a_required_field_is_a_400(admin: AdminClient) -> None:
    admin.post("/v1/buyers", json={"ID": "b", "Name": "B"})
    response = admin.patch("/v1/buyers/b", json={"Name": None})
    assert response.status_code == 400
    assert error_of(response)["Data"]["Field"] == "Name"
    assert admin.get("/v1/buyers/b").json["Name"] == "B"


def test_an_oversized_body_is_413_with_the_error_body(admin: AdminClient) -> None:
    response = admin.post("/v1/buyers", json={"Name": "n", "xp": {"blob": "x" * 70_000}})
    assert response.status_code == 413
    assert error_of(response)["ErrorCode"] == "PayloadTooLarge"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "ID",
        "Name",
        "Username",
        "Email",
        "FirstName",
        "LastName",
        "Password",
        "xp",
        "Active",
        "URL",
        "SharedKey",
        "MessageTypes",
        "DeliveryConfigID",
        "DeliveryTargets",
        "Roles",
        "PasswordConfig",
        "TemplateOverrides",
        "AppName",
        "ClientSecret",
        "BuyerID",
    ]
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(
        [
            "/v1/buyers",
            "/v1/adminusers",
            "/v1/securityprofiles",
            "/v1/messagesenders",
            "/v1/integrations/deliveryconfig",
            "/v1/securityprofiles/assignments",
        ]
    ),
    body=st.dictionaries(field_names, json_values, max_size=6),
)
def test_arbitrary_json_never_causes_a_server_error(
    admin: AdminClient, path: str, body: dict[str, Any]
) -> None:
    response = admin.post(path, json=body)
    assert response.status_code < 500, (path, body, response.json)
    if response.status_code >= 400:
        assert error_of(response)["ErrorCode"]
