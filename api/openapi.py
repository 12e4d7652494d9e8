"""OpenAPI 3.1 at ``GET /openapi.json``, generated from the pydantic models that validate.

How to add an operation: declare it next to the route that serves it, on the blueprint::

    from api.openapi import Operation, document

    otp_requests = Blueprint("otp_requests", __name__)
    document(
        otp_requests,
        Operation(
            path="/v1/password/onetimepassword",
            method="post",
            summary="Request a one-time password",
            tag="OneTimePasswords",
            request_model=OneTimePasswordRequest,  # validates the body; its schema is published
            responses={204: None},  # status → response model (None: no body)
            errors=(400, 429, 503),  # answered with the contract's error body
            secured=False,  # no bearer token
        ),
    )

The operations join the app's registry when the blueprint is registered on the app
(``registry_of(app).add(...)`` does the same without a blueprint). The token handler is
another app, but its operations belong in the api app's document too: register them on
the api app with ``served_by="token"`` and ``request_content_type=
"application/x-www-form-urlencoded"``. A test walks the api app's routes and fails for
any route that is not documented. The document is generated once per app, on the
first request for it, and then served from memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify
from flask.sansio.app import App
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

_KEY = "otp_openapi"
_PATH_PARAMETER = re.compile(r"{(\w+)}")
_FLASK_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")

ERROR_DESCRIPTIONS = {
    400: "Invalid request: the field is named in Errors[0].Data.Field",
    401: "Missing or invalid bearer token (InvalidToken)",
    403: "The token holds none of the sufficient roles (InsufficientRoles)",
    404: "Not found (NotFound)",
    409: "Conflict (IdExists, User.UsernameMustBeUnique, InUse)",
    429: "Too many requests (TooManyRequests); see Retry-After",
    503: "A backing service is unavailable (ServiceUnavailable); see Retry-After",
}


class ErrorDetail(BaseModel):
    ErrorCode: str
    Message: str
    Data: Any = None


class ErrorBody(BaseModel):
    """OrderCloud's error shape."""

    Errors: list[ErrorDetail]


@dataclass(frozen=True)
class Operation:
    path: str  # OpenAPI form: /v1/buyers/{buyerID}/users/{id}
    method: Literal["get", "post", "put", "patch", "delete"]
    summary: str
    tag: str
    request_model: type[BaseModel] | None = None
    request_content_type: str = "application/json"
    request_body_required: bool = True  # False: the whole body may be left out
    responses: Mapping[int, type[BaseModel] | None] = field(default_factory=lambda: {200: None})
    query_model: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400,)
    secured: bool = True
    description: str | None = None
    # Which deployable answers it. The api app's document covers the whole contract, so
    # /oauth/token is listed here too, marked "token" (published as x-served-by).
    served_by: str = "api"


def openapi_path(flask_rule: str) -> str:
    """``/v1/buyers/<buyerID>/users`` → ``/v1/buyers/{buyerID}/users``."""
    return _FLASK_PARAMETER.sub(r"{\1}", flask_rule)


class OpenApiRegistry:
    """The operations of one app, and its document once generated."""

    def __init__(self, title: str = "otp-service", version: str = "0.1.0") -> None:
        self.title = title
        self.version = version
        self.operations: list[Operation] = []
        self._document: dict[str, Any] | None = None

    def add(self, *operations: Operation) -> None:
        self.operations.extend(operations)
        self._document = None

    def document(self) -> dict[str, Any]:
        if self._document is None:
            self._document = self._generate()
        return self._document

    def _generate(self) -> dict[str, Any]:
        wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
        for operation in self.operations:
            if operation.request_model is not None:
                wanted.append((operation.request_model, "validation"))
            if operation.query_model is not None:
                wanted.append((operation.query_model, "validation"))
            wanted.extend(
                (model, "serialization")
                for model in operation.responses.values()
                if model is not None
            )
        unique = list(dict.fromkeys(wanted))
        refs, definitions = models_json_schema(unique, ref_template="#/components/schemas/{model}")
        schemas: dict[str, Any] = definitions.get("$defs", {})
        paths: dict[str, dict[str, Any]] = {}
        for operation in self.operations:
            paths.setdefault(operation.path, {})[operation.method] = self._operation(
                operation, refs, schemas
            )
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }

    def _operation(
        self,
        operation: Operation,
        refs: Mapping[Any, Any],
        schemas: Mapping[str, Any],
    ) -> dict[str, Any]:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAMETER.findall(operation.path)
        ]
        if operation.query_model is not None:
            parameters.extend(
                _query_parameters(refs[(operation.query_model, "validation")], schemas)
            )
        responses: dict[str, Any] = {}
        for status, model in operation.responses.items():
            answer: dict[str, Any] = {"description": "Success"}
            if model is not None:
                answer["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
            responses[str(status)] = answer
        error_schema = refs[(ErrorBody, "serialization")]
        # 400: the input guard refuses a malformed path, query or body on every route.
        statuses = {400, *operation.errors} | ({401, 403} if operation.secured else set())
        for status in sorted(statuses):
            responses[str(status)] = {
                "description": ERROR_DESCRIPTIONS.get(status, "Error"),
                "content": {"application/json": {"schema": error_schema}},
            }
        body: dict[str, Any] = {
            "summary": operation.summary,
            "tags": [operation.tag],
            "operationId": _operation_id(operation),
            "parameters": parameters,
            "responses": responses,
            "security": [{"bearer": []}] if operation.secured else [],
        }
        if operation.description:
            body["description"] = operation.description
        if operation.served_by != "api":
            body["x-served-by"] = operation.served_by
        if operation.request_model is not None:
            body["requestBody"] = {
                "required": operation.request_body_required,
                "content": {
                    operation.request_content_type: {
                        "schema": refs[(operation.request_model, "validation")]
                    }
                },
            }
        return body


def _operation_id(operation: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", f"{operation.method} {operation.path}")
    return str(words[0]) + "".join(word[:1].upper() + word[1:] for word in words[1:])


def _query_parameters(reference: Mapping[str, Any], schemas: Mapping[str, Any]) -> list[Any]:
    name = str(reference["$ref"]).rsplit("/", 1)[-1]
    model_schema = schemas[name]
    required = set(model_schema.get("required", []))
    return [
        {"name": key, "in": "query", "required": key in required, "schema": schema}
        for key, schema in model_schema.get("properties", {}).items()
    ]


def registry_of(app: App) -> OpenApiRegistry:
    registry = app.extensions.get(_KEY)
    if registry is None:
        registry = app.extensions[_KEY] = OpenApiRegistry()
    assert isinstance(registry, OpenApiRegistry)
    return registry


def document(blueprint: Blueprint, *operations: Operation) -> None:
    """Publish ``operations`` in the OpenAPI document of every app that registers ``blueprint``."""
    blueprint.record_once(lambda state: registry_of(state.app).add(*operations))


openapi = Blueprint("openapi", __name__)
document(
    openapi,
    Operation(
        path="/openapi.json",
        method="get",
        summary="This API as an OpenAPI 3.1 document",
        tag="Meta",
        errors=(),
        secured=False,
    ),
)


@openapi.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(registry_of(current_app._get_current_object()).document())  # type: ignore[attr-defined]
