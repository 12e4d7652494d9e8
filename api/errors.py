"""The one place where errors become the contract's bodies: no HTML pages, no tracebacks."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from core.platform.errors import DomainError, ServiceUnavailable, TokenRequestError, TooManyRequests

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

_HTTP_ERROR_CODES = {
    400: "InvalidRequest",
    401: "InvalidToken",
    403: "InsufficientRoles",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


# Error codes whose Data names an object: OrderCloud's SDK builds a NotFound error's
# message from Data.ObjectType and Data.ObjectID, so those two keys are always present.
_OBJECT_ERRORS = frozenset({"NotFound", "IdExists"})
_MAX_ECHOED_PATH = 200


def error_body(error_code: str, message: str, data: Any = None) -> dict[str, Any]:
    """OrderCloud's error shape, with ``Data`` shaped as its ErrorCode needs."""
    if error_code in _OBJECT_ERRORS:
        named = data if isinstance(data, dict) else {}
        data = {"ObjectType": None, "ObjectID": None, **named}
    return {"Errors": [{"ErrorCode": error_code, "Message": message, "Data": data}]}


def error_response(status: int, error_code: str, message: str, data: Any = None) -> Response:
    response = jsonify(error_body(error_code, message, data))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        response = error_response(error.status, error.error_code, error.message, error.data)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="otp-service"'  # RFC 6750
        return response

    @app.errorhandler(ServiceUnavailable)
    def service_unavailable(error: ServiceUnavailable) -> Response:
        log.warning("service unavailable: %s", error)
        response = error_response(
            503, "ServiceUnavailable", "The service is temporarily unavailable; retry shortly."
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = _HTTP_ERROR_CODES.get(status, "InvalidRequest" if status < 500 else "InternalError")
        data = None
        if status == 404:  # no such route: the "object" not found is the path asked for
            data = {"ObjectType": "Route", "ObjectID": request.path[:_MAX_ECHOED_PATH]}
        response = error_response(status, code, error.description or code, data)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "InternalError", "An unexpected error occurred.")


def token_error_response(error: TokenRequestError) -> Response:
    """The token handler's refusal: RFC 6749's body and OrderCloud's ``Errors`` together."""
    response = jsonify(
        {
            "error": error.oauth_error,
            "error_description": error.message,
            "Errors": [{"ErrorCode": error.error_code, "Message": error.message}],
        }
    )
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


def register_token_error_handlers(app: Flask) -> None:
    """The api's handlers, plus the OAuth body for token refusals."""
    register_error_handlers(app)
    app.register_error_handler(TokenRequestError, token_error_response)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        # Only the driver's first line: the statement and its parameters stay out of logs.
        reason = str(error.orig or "").strip().splitlines()
        log.warning("database unavailable: %s", reason[0] if reason else "no answer")
        response = error_response(
            503, "ServiceUnavailable", "The service is temporarily unavailable; retry shortly."
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
