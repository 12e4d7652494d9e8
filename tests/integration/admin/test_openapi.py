"""/openapi.json: a valid OpenAPI 3.1 document describing every route the app serves."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from openapi_spec_validator import validate

from api.openapi import openapi_path

_HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _document(api_client: FlaskClient) -> dict[str, Any]:
    response = api_client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def test_the_document_is_valid_openapi_3_1(api_client: FlaskClient) -> None:
    document = _document(api_client)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any structural error, including unresolved $refs


def test_every_route_the_app_serves_is_in_the_document(api_client: FlaskClient) -> None:
    paths = _document(api_client)["paths"]
    for rule in api_client.application.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = openapi_path(rule.rule)
        assert path in paths, path
        for method in {m.lower() for m in rule.methods or ()} & _HTTP_METHODS:
            assert method in paths[path], (method, path)


def test_every_documented_operation_is_served(api_client: FlaskClient) -> None:
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in api_client.application.url_map.iter_rules()
        for method in rule.methods or ()
    }
    for path, operations in _document(api_client)["paths"].items():
        for method, operation in operations.items():
            if operation.get("x-served-by", "api") == "api":
                assert (path, method) in served


def test_schemas_come_from_the_validating_models(api_client: FlaskClient) -> None:
    document = _document(api_client)
    schemas = document["components"]["schemas"]
    write = schemas["UserWrite"]
    assert {"Username", "FirstName", "LastName", "Email"} <= set(write["required"])
    assert write["properties"]["Username"]["maxLength"] == 255
    assert "Password" in write["properties"]
    read = schemas["User"]
    assert "Password" not in read["properties"]
    assert {"FailedLoginAttempts", "Locked"} <= set(read["properties"])
    assert "SharedKey" not in schemas["MessageSender"]["properties"]
    assert "ClientSecret" not in schemas["ApiClient"]["properties"]
    assert "OneTimePassword" in str(schemas["MessageSenderWrite"])
    security_role = re.search(r"FullAccess", str(schemas["SecurityProfileWrite"]))
    assert security_role is not None


def test_operations_name_their_security_parameters_and_errors(api_client: FlaskClient) -> None:
    document = _document(api_client)
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    listing = document["paths"]["/v1/buyers/{buyerID}/users"]["get"]
    assert listing["security"] == [{"bearer": []}]
    names = {(p["name"], p["in"]) for p in listing["parameters"]}
    assert {
        ("buyerID", "path"),
        ("page", "query"),
        ("pageSize", "query"),
        ("search", "query"),
        ("sortBy", "query"),
    } <= names
    assert listing["responses"]["403"]["content"]["application/json"]["schema"] == error_ref
    deliveries = document["paths"]["/v1/deliveries"]["get"]
    assert {"status", "username", "sender", "from", "to"} <= {
        p["name"] for p in deliveries["parameters"]
    }
    create = document["paths"]["/v1/adminusers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserWrite"
    }
    assert set(create["responses"]) >= {"201", "400", "401", "403", "409"}
    assert document["paths"]["/healthz"]["get"]["security"] == []


def test_the_document_is_generated_once_per_app(api_client: FlaskClient) -> None:
    from api.openapi import registry_of

    first = _document(api_client)
    registry = registry_of(api_client.application)
    assert registry.document() is registry.document()
    assert _document(api_client) == first
