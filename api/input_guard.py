"""``before_request``: input no handler should ever see is a 400 before any query runs.

Refused, with ``InvalidRequest`` naming where (the value itself is never echoed back):

- a control character (U+0000 to U+001F, U+007F) in the URL path or in a query name or
  value: path ids and filters go to PostgreSQL, which cannot hold U+0000;
- JSON nested deeper than :data:`MAX_JSON_DEPTH` levels (the whole document, ``xp``
  included): deep documents cost recursion in every parser and serialiser after this one;
- U+0000 or a lone surrogate (``\\ud800``) in any JSON string or key: PostgreSQL text and
  JSON columns cannot hold the first, UTF-8 cannot encode the second.

docs/hostile-input.md lists these bounds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from core.platform.errors import InvalidRequest

MAX_JSON_DEPTH = 32

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")
_NUL_REASON = "NUL characters (U+0000) are not allowed"
_CONTROL_REASON = "control characters are not allowed"
_SURROGATE_REASON = "unpaired surrogates are not allowed"


def refuse_hostile_input() -> None:
    _check_path(request.path)
    for name, value in request.args.items(multi=True):
        for text in (name, value):
            found = _CONTROL.search(text)
            if found:
                raise _refused(name, _reason(found.group()))
    body = request.get_data(cache=True)
    if body:
        _check_json_body(body)


def _check_path(path: str) -> None:
    found = _CONTROL.search(path)
    if found:
        raise _refused("path", _reason(found.group()))


def _check_json_body(body: bytes) -> None:
    if json_depth_exceeds(body, MAX_JSON_DEPTH):
        reason = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        raise InvalidRequest(f"{reason}.", data={"Field": None, "Reason": reason})
    if b"\\u" not in body and b"\x00" not in body:
        return  # U+0000 and surrogates only reach a JSON string escaped (or raw, for NUL)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON: the route's own parser answers with its 400
    found = _first_unstorable(document, "")
    if found is not None:
        field, character = found
        raise _refused(field, _NUL_REASON if character == "\x00" else _SURROGATE_REASON)


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (no parsing, no recursion)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b"", body)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _reason(character: str) -> str:
    return _NUL_REASON if character == "\x00" else _CONTROL_REASON


def _refused(field: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{reason}.", data={"Field": field or None, "Reason": reason})


def _first_unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """The dotted path of the first string (or key) holding U+0000 or a surrogate, if any.

    Recursion is bounded: only documents within :data:`MAX_JSON_DEPTH` get here.
    """
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        return (path, found.group()) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            found = _UNSTORABLE.search(str(key))
            if found:
                return here, found.group()
            inner = _first_unstorable(item, here)
            if inner is not None:
                return inner
    if isinstance(value, list):
        for index, item in enumerate(value):
            inner = _first_unstorable(item, f"{path}.{index}" if path else str(index))
            if inner is not None:
                return inner
    return None
