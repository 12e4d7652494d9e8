"""Request bodies parsed by the same pydantic models that document them in OpenAPI."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from core.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M]) -> M:
    """The body as ``model``, or InvalidRequest naming the offending field in ``Data``.

    The content type is not insisted on: a body that parses as a JSON object is accepted.
    """
    payload = request.get_json(force=True, silent=True)
    if not isinstance(payload, dict):
        raise InvalidRequest(
            "The request body must be a JSON object.",
            data={"Field": None, "Reason": "body is not a JSON object"},
        )
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise invalid_request(error) from None


def invalid_request(error: ValidationError) -> InvalidRequest:
    """The first problem, named by field. The input value is never echoed back."""
    first: Any = error.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return InvalidRequest(
        f"{field}: {first['msg']}" if field else str(first["msg"]),
        data={"Field": field, "Reason": first["msg"]},
    )
