"""OrderCloud's list filters, ``searchOn`` and ``sortBy`` as SQL, over a resource's fields.

A filter is a query parameter named after a property (``Active``, ``Name``) or a path
inside ``xp`` (``xp.Tier``, ``xp.Address.City``). Its value is one or more alternatives
joined by ``|`` (any may match); each alternative may start with ``!`` (not) and then
with ``<``, ``>``, ``<=`` or ``>=`` (a comparison); a ``*`` anywhere makes it a wildcard
(``Ann*``, ``*son``, ``*nn*``). Text matches ignore case. Several filters, and the same
filter repeated, must all match.

Everything here becomes a WHERE or ORDER BY clause: nothing is filtered in Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    case,
    func,
    not_,
    or_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute

from core.platform.errors import InvalidRequest

# Wire name → column: what a resource lets clients filter, search and sort on.
Fields = Mapping[str, InstrumentedAttribute[Any]]

_COMPARISONS: tuple[tuple[str, Callable[[Any, Any], ColumnElement[bool]]], ...] = (
    ("<=", lambda column, value: column <= value),
    (">=", lambda column, value: column >= value),
    ("<", lambda column, value: column < value),
    (">", lambda column, value: column > value),
)
_MAX_XP_DEPTH = 8


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _wildcard_pattern(value: str) -> str:
    """``Ann*`` → ``Ann%``: OrderCloud's ``*`` is the only wildcard; SQL's are literal."""
    return "%".join(escape_like(part) for part in value.split("*"))


def field_named(fields: Fields, name: str, *, purpose: str) -> InstrumentedAttribute[Any]:
    """The column a wire name means (case-insensitively), or a 400 naming what is allowed."""
    by_lower = {key.lower(): column for key, column in fields.items()}
    column = by_lower.get(name.lower())
    if column is None:
        raise InvalidRequest(
            f"{purpose}: unknown field {name!r}; allowed: {', '.join(fields)}",
            data={"Field": purpose},
        )
    return column


# One ORDER BY key: the column, and whether it sorts descending.
SortKey = tuple[InstrumentedAttribute[Any], bool]


def sort_order(
    fields: Fields, sort_by: Sequence[str], tie_breakers: Sequence[InstrumentedAttribute[Any]]
) -> list[SortKey]:
    """ORDER BY keys for ``sortBy`` (``!Field`` descending), ending with the tie-breakers.

    The tie-breakers run in the direction of the last key, so one composite index
    ``(scope, key, id)`` serves a sort both ways.
    """
    order: list[SortKey] = []
    descending = False
    for key in sort_by:
        descending = key.startswith("!")
        order.append((field_named(fields, key.lstrip("!"), purpose="sortBy"), descending))
    order.extend((column, descending) for column in tie_breakers)
    return order


def order_by(keys: Sequence[SortKey], *, reverse: bool = False) -> list[Any]:
    """The ORDER BY clauses of ``keys``, or of the exact reverse order (nulls included:
    PostgreSQL puts them last ascending and first descending)."""
    return [column.desc() if descending != reverse else column.asc() for column, descending in keys]


def search_columns(
    fields: Fields, default: Sequence[str], search_on: Sequence[str]
) -> list[InstrumentedAttribute[Any]]:
    """The columns ``search`` looks in: ``searchOn``'s (a subset of the default), or all."""
    allowed = {name: fields[name] for name in default}
    return [field_named(allowed, name, purpose="searchOn") for name in search_on or default]


def search_clause(columns: Sequence[InstrumentedAttribute[Any]], term: str) -> ColumnElement[bool]:
    """``term`` as a case-insensitive substring of any of ``columns``."""
    pattern = f"%{escape_like(term)}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def filter_clauses(
    fields: Fields,
    xp: InstrumentedAttribute[Any] | None,
    filters: Sequence[tuple[str, str]],
    dialect: str,
) -> list[ColumnElement[bool]]:
    """One clause per ``(name, value)`` query parameter; all of them must hold."""
    return [
        or_(*(_one_filter(fields, xp, name, one, dialect) for one in value.split("|")))
        for name, value in filters
    ]


def _one_filter(
    fields: Fields, xp: InstrumentedAttribute[Any] | None, name: str, value: str, dialect: str
) -> ColumnElement[bool]:
    """One alternative of one filter: ``Name=Ann*`` or ``xp.Tier=!gold``."""
    if name.lower().startswith("xp.") and xp is not None:
        path = name.split(".")[1:]
        if not all(path) or len(path) > _MAX_XP_DEPTH:
            raise InvalidRequest(f"{name}: not a path inside xp", data={"Field": name})
        return _xp_clause(xp, path, value, dialect)
    return _column_clause(field_named(fields, name, purpose=name), name, value)


def _split_operator(value: str) -> tuple[bool, str | None, str]:
    """``!>=5`` → (negated, ">=", "5")."""
    negated = value.startswith("!")
    rest = value[1:] if negated else value
    for symbol, _ in _COMPARISONS:
        if rest.startswith(symbol):
            return negated, symbol, rest[len(symbol) :]
    return negated, None, rest


def _compare(symbol: str, column: Any, value: Any) -> ColumnElement[bool]:
    return dict(_COMPARISONS)[symbol](column, value)


def _negate(
    clause: ColumnElement[bool], negated: bool, column: Any, nullable: bool
) -> ColumnElement[bool]:
    if not negated:
        return clause
    # "not X" also keeps the objects that have no value at all.
    return or_(column.is_(None), not_(clause)) if nullable else not_(clause)


def _column_clause(
    column: InstrumentedAttribute[Any], name: str, value: str
) -> ColumnElement[bool]:
    negated, symbol, operand = _split_operator(value)
    nullable = bool(getattr(column.expression, "nullable", True))
    column_type = column.type
    clause: ColumnElement[bool]
    if isinstance(column_type, String) and symbol is None and "*" in operand:
        clause = column.ilike(_wildcard_pattern(operand), escape="\\")
    elif isinstance(column_type, String) and symbol is None:
        # The same match twice: lower() = lets a lower(column) B-tree (username, email)
        # answer it; ILIKE lets the trigram index answer it for the other columns.
        clause = and_(
            column.ilike(escape_like(operand), escape="\\"),
            func.lower(column) == operand.lower(),
        )
    else:
        typed = _typed(column_type, name, operand)
        clause = column == typed if symbol is None else _compare(symbol, column, typed)
    return _negate(clause, negated, column, nullable)


def _typed(column_type: Any, name: str, value: str) -> Any:
    """The filter value as the column's type, or a 400 naming the filter."""
    python_type = getattr(column_type, "impl", column_type)
    try:
        if isinstance(python_type, Boolean):
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        if isinstance(python_type, Integer):
            number = int(value)
            if not -(2**31) <= number < 2**31:  # the columns are PostgreSQL integers
                raise ValueError(value)
            return number
        if isinstance(python_type, DateTime):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequest(
            f"{name}: {_kind(python_type)} expected", data={"Field": name}
        ) from None
    return value


def _kind(python_type: Any) -> str:
    if isinstance(python_type, Boolean):
        return "true or false"
    if isinstance(python_type, Integer):
        return "an integer"
    return "an ISO 8601 date and time"


def _json_candidates(value: str) -> list[Any]:
    """What a query value may mean inside xp: the text, and a number or boolean if it is one."""
    candidates: list[Any] = [value]
    if value.lower() in ("true", "false"):
        candidates.append(value.lower() == "true")
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(number):
            candidates.append(int(number) if number.is_integer() else number)
    return candidates


def _nest(path: Sequence[str], value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _xp_clause(
    xp: InstrumentedAttribute[Any], path: Sequence[str], value: str, dialect: str
) -> ColumnElement[bool]:
    negated, symbol, operand = _split_operator(value)
    if dialect == "postgresql":
        document = type_coerce(xp, JSONB)
        text = document[tuple(path)].astext
        if symbol is None and "*" not in operand:
            # Containment, served by the GIN index on xp: {"Tier": "gold"} or {"Tier": 5}.
            clause = or_(
                *(document.contains(_nest(path, one)) for one in _json_candidates(operand))
            )
        elif symbol is None:
            clause = text.ilike(_wildcard_pattern(operand), escape="\\")
        else:
            clause = _xp_compare(document, path, symbol, operand)
        return _negate(clause, negated, text, nullable=True)
    # SQLite (dev mode): JSON functions, no index.
    element = xp[tuple(path)].as_string()
    if symbol is None:
        pattern = _wildcard_pattern(operand) if "*" in operand else escape_like(operand)
        clause = element.ilike(pattern, escape="\\")
    else:
        clause = _compare(symbol, xp[tuple(path)].as_float(), _as_number(operand))
    return _negate(clause, negated, element, nullable=True)


def _xp_compare(
    document: Any, path: Sequence[str], symbol: str, operand: str
) -> ColumnElement[bool]:
    """A comparison on a number inside xp when the operand is a number, else on text."""
    value = document[tuple(path)]
    text = value.astext
    number = _as_number(operand, strict=False)
    if number is None:
        return _compare(symbol, text, operand)
    # Only values stored as JSON numbers are cast, so text in xp never fails the cast.
    as_number = case(
        (func.jsonb_typeof(value) == "number", text.cast(Float)),
        else_=None,
    )
    return and_(func.jsonb_typeof(value) == "number", _compare(symbol, as_number, number))


def _as_number(value: str, *, strict: bool = True) -> float | None:
    try:
        number = float(value)
    except ValueError:
        if strict:
            raise InvalidRequest(
                "xp: a number expected after < > <= >=", data={"Field": "xp"}
            ) from None
        return None
    return number if math.isfinite(number) else None
