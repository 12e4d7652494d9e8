"""Wire models and request parsing: bodies and query strings → pydantic models → values.

Schemas are written with snake_case attributes and OrderCloud's PascalCase on the wire
(``ID``, ``URL``, ``xp`` as OrderCloud spells them). Bad input never becomes a 500: every
validation problem is an ``InvalidRequest`` naming the field in ``Data``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.fields import FieldInfo

from core.platform.errors import InvalidRequest

MAX_TEXT = 255

_WORDS = {"id": "ID", "url": "URL"}


def pascal_alias(name: str) -> str:
    """``api_client_id`` → ``ApiClientID``; ``xp`` stays ``xp`` as in OrderCloud."""
    if name == "xp":
        return name
    return "".join(_WORDS.get(part, part.capitalize()) for part in name.split("_"))


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")]
Extended = Annotated[dict[str, Any], Field(description="Extended properties (free-form JSON).")]


class WireModel(BaseModel):
    """A request or response body: PascalCase on the wire, strict types, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=pascal_alias, strict=True, extra="ignore", validate_by_alias=True
    )


ModelT = TypeVar("ModelT", bound=BaseModel)


def invalid_request(error: ValidationError) -> InvalidRequest:
    """The first problem, named by field in ``Data``; the input value is never echoed back.

    Same ``Data`` shape (``Field``, ``Reason``) as the OTP request endpoint's.
    """
    first = error.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    where = f"{field}: " if field else ""
    return InvalidRequest(f"{where}{first['msg']}", data={"Field": field, "Reason": first["msg"]})


def parse_body(model: type[ModelT]) -> ModelT:
    """The JSON body as ``model``; malformed JSON, wrong types and long strings are a 400."""
    try:
        return model.model_validate_json(request.get_data(cache=True) or b"")
    except ValidationError as error:
        raise invalid_request(error) from None


_OBJECT_ID: TypeAdapter[str] = TypeAdapter(ObjectId)


def parse_object_id(value: str) -> str:
    """An ID from the path that is about to name a new object (PUT creates)."""
    try:
        return _OBJECT_ID.validate_python(value)
    except ValidationError as error:
        reason = error.errors(include_input=False, include_url=False)[0]["msg"]
        raise InvalidRequest(f"ID: {reason}", data={"Field": "ID", "Reason": reason}) from None


def parse_query(model: type[ModelT]) -> ModelT:
    """The query string as ``model`` (lax: query values are text)."""
    try:
        return model.model_validate(request.args.to_dict(), strict=False)
    except ValidationError as error:
        raise invalid_request(error) from None


def patch_model_of(model: type[ModelT]) -> type[ModelT]:
    """The same fields, each optional but still not nullable (PATCH sends only what changes).

    The default is left unvalidated, so an omitted field passes while an explicit ``null``
    for a non-nullable field is still a 400.
    """
    fields: dict[str, Any] = {
        name: (
            info.annotation,
            FieldInfo.merge_field_infos(
                info, default=None, default_factory=None, json_schema_extra=_omit_default
            ),
        )
        for name, info in model.model_fields.items()
    }
    patch: type[ModelT] = create_model(
        model.__name__.removesuffix("Write") + "Patch", __base__=model, **fields
    )
    return patch


def _omit_default(schema: dict[str, Any]) -> None:
    # "Omitted" is not a value a client may send, so it is not published as a default.
    schema.pop("default", None)


def body_values(
    instance: BaseModel, *, partial: bool, write_only: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Validated values keyed by attribute name, as ``core`` stores take them.

    Nested objects keep their wire names (that is how JSON columns store them). A PATCH
    passes only the fields sent; a PUT passes every field except write-only secrets that
    were left out, which keep their stored value.
    """
    dumped = instance.model_dump(mode="json", by_alias=True)
    sent = instance.model_fields_set
    values: dict[str, Any] = {}
    for name, info in type(instance).model_fields.items():
        if name in sent or (not partial and name not in write_only):
            values[name] = dumped[info.alias or name]
    return values


def parse_json_object(model: type[ModelT]) -> ModelT:
    """A JSON object body as ``model``, whatever its Content-Type (the public OTP request).

    Anything but a JSON object is one 400 with ``Field`` null; field problems name it.
    """
    try:
        payload = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        payload = None  # the input guard refuses deep nesting first; this is the backstop
    if not isinstance(payload, dict):
        raise InvalidRequest(
            "The request body must be a JSON object.",
            data={"Field": None, "Reason": "body is not a JSON object"},
        )
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise invalid_request(error) from None
