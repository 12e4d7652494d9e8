"""Reading ``/oauth/token``'s urlencoded form strictly: anything odd is a 400, never a 500."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Request
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from api.token.schemas import GRANT_TYPES, TokenRequest
from core.platform.errors import MalformedTokenRequest, UnsupportedGrantType

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 32
_KNOWN_FIELDS = frozenset(TokenRequest.model_fields)


def read_token_request(request: Request) -> TokenRequest:
    """The validated form; :class:`MalformedTokenRequest` or :class:`UnsupportedGrantType`."""
    if request.mimetype != FORM_TYPE:
        raise MalformedTokenRequest(f"The Content-Type must be {FORM_TYPE}.")
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise MalformedTokenRequest("The request body is too large.") from None
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise MalformedTokenRequest("The body is not a valid urlencoded UTF-8 form.") from None
    fields = _known_fields(pairs)
    grant_type = fields.get("grant_type")
    if grant_type is None:
        raise MalformedTokenRequest("grant_type is required.")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(f"grant_type must be one of {', '.join(GRANT_TYPES)}.")
    try:
        return TokenRequest.model_validate(fields)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise MalformedTokenRequest(f"{field}: {problem['msg']}.") from None


def _known_fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Known fields, each at most once; blank ones count as absent, unknown ones are ignored."""
    fields: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name not in _KNOWN_FIELDS:
            continue
        if name in seen:
            raise MalformedTokenRequest(f"{name} is given more than once.")
        seen.add(name)
        if "\x00" in value:
            raise MalformedTokenRequest(f"{name} contains a NUL character.")
        if value != "":
            fields[name] = value
    return fields
