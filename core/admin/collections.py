"""One mechanism for OrderCloud-style collections: paging, filters, search, sort, CRUD,
404 and 409.

Each admin resource subclasses :class:`CollectionStore` and declares only its model, the
fields filters, ``search`` and ``sortBy`` may use, and its rules (``apply`` and ``check``). Values
arrive as plain dicts keyed by model attribute names, already validated for type and size
by the HTTP layer, so this module knows nothing about Flask or pydantic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.admin.list_filters import (
    Fields,
    SortKey,
    filter_clauses,
    order_by,
    search_clause,
    search_columns,
    sort_order,
)
from core.models import Base
from core.platform.errors import DomainError, IdExists, InvalidRequest, NotFound
from core.platform.ids import new_id

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

RowT = TypeVar("RowT", bound=Base)
ItemT = TypeVar("ItemT")

# Path parameters that narrow a collection, by model attribute: {"buyer_id": "b1"}.
Scope = Mapping[str, str]


@dataclass(frozen=True)
class ListQuery:
    """``page``, ``pageSize``, ``search``, ``searchOn``, ``sortBy`` and filters.

    ``filters`` are a resource's own named parameters (the deliveries' ``status``);
    ``field_filters`` are OrderCloud's property filters, one ``(name, value)`` per query
    parameter (``("xp.Tier", "gold|silver")``), all of which must match.
    """

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    search: str | None = None
    sort_by: tuple[str, ...] = ()  # API field names; "!Name" sorts descending
    filters: Mapping[str, Any] = field(default_factory=dict)
    search_on: tuple[str, ...] = ()
    field_filters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    page: int
    page_size: int
    total_count: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_count / self.page_size)

    @property
    def item_range(self) -> tuple[int, int]:
        """1-based positions of the first and last item, as OrderCloud reports them."""
        first = (self.page - 1) * self.page_size + 1
        return first, first + len(self.items) - 1


def page_statements(
    statement: Select[Any],
    query: ListQuery,
    *,
    order: Sequence[SortKey],
    id_column: InstrumentedAttribute[Any] | None = None,
    total: int | None = None,
) -> tuple[Select[Any], Select[Any]]:
    """The count of ``statement``'s rows, and its page in ``order``.

    The page's keys are found first (an index-only scan when an index covers the scope
    and the order) and only the page's rows are read, so a deep page skips index entries,
    not table rows. Given the ``total``, a page past the middle is read from the other end
    (fewer entries to skip) and the rows come back in reverse: see :func:`page_of`.
    Without an ``id_column`` (composite keys) the page is read directly.
    """
    count = select(func.count()).select_from(statement.order_by(None).subquery())
    offset, limit = (query.page - 1) * query.page_size, query.page_size
    reverse = total is not None and page_reversed(query, total, id_column)
    if reverse:
        assert total is not None
        limit = max(0, min(limit, total - offset))
        offset = max(0, total - offset - limit)
    clauses = order_by(order, reverse=reverse)
    if id_column is not None:
        keys = statement.with_only_columns(id_column).order_by(*clauses).offset(offset)
        rows = statement.where(id_column.in_(keys.limit(limit).scalar_subquery()))
    else:
        rows = statement.offset(offset).limit(limit)
    return count, rows.order_by(*clauses)


def page_reversed(query: ListQuery, total: int, id_column: object | None) -> bool:
    """Whether :func:`page_statements` reads this page from the other end."""
    return id_column is not None and (query.page - 1) * query.page_size > total // 2


def page_of(
    session: Session,
    statement: Select[Any],
    query: ListQuery,
    *,
    order: Sequence[SortKey],
    id_column: InstrumentedAttribute[Any] | None = None,
) -> Page[Any]:
    """One page of ``statement`` in ``order``, with the count of all its rows."""
    count, _ = page_statements(statement, query, order=order, id_column=id_column)
    total = int(session.scalar(count) or 0)
    _, page = page_statements(statement, query, order=order, id_column=id_column, total=total)
    rows = list(session.execute(page).scalars())
    if page_reversed(query, total, id_column):
        rows.reverse()
    return Page(rows, query.page, query.page_size, total)


class CollectionStore(Generic[RowT]):
    """Create, read, update, delete and list one model; subclasses add the domain rules."""

    model: ClassVar[type[Base]]
    object_type: ClassVar[str]  # "Buyer", "ApiClient": named in 404/409 error data
    # Wire name → column for filters and sortBy; ``search_fields`` are searched by default
    # and are what ``searchOn`` may name.
    fields: ClassVar[Fields] = {}
    search_fields: ClassVar[tuple[str, ...]] = ()

    # --- what a resource may override -------------------------------------------------

    def generate_id(self) -> str:
        return new_id()

    def scope_clauses(self, session: Session, scope: Scope) -> list[ColumnElement[bool]]:
        """WHERE clauses that keep the collection to its path (e.g. one buyer's users)."""
        return []

    def filter_clauses(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        """WHERE clauses for resource-specific list filters."""
        return []

    def new_row(self, scope: Scope) -> RowT:
        row: RowT = self.model()  # type: ignore[assignment]
        for name, value in scope.items():
            setattr(row, name, value)
        return row

    def apply(self, session: Session, row: RowT, values: Mapping[str, Any]) -> None:
        """Copy validated values onto the row; override to hash secrets or merge."""
        for name, value in values.items():
            setattr(row, name, value)

    def check(self, session: Session, row: RowT) -> None:
        """Rules over the whole object after a create or update (cross-field, references)."""

    def check_delete(self, session: Session, row: RowT) -> None:
        """Refuse a delete that would leave other objects broken."""

    def present(self, row: RowT) -> dict[str, Any]:
        """The row as attribute values for the read schema (which drops write-only ones)."""
        return {column.key: getattr(row, column.key) for column in row.__mapper__.column_attrs}

    def present_all(self, session: Session, rows: Sequence[RowT]) -> list[dict[str, Any]]:
        """Several rows at once; a resource whose view needs other tables (a user's
        AvailableRoles) reads them here in one query per page, not one per row."""
        return [self.present(row) for row in rows]

    # --- the generic operations -------------------------------------------------------

    def _id_column(self) -> InstrumentedAttribute[Any]:
        column: InstrumentedAttribute[Any] = self.model.id  # type: ignore[attr-defined]
        return column

    def list_statement(
        self, session: Session, query: ListQuery, scope: Scope
    ) -> tuple[Select[Any], list[SortKey]]:
        """The filtered, searched collection and its order, as SQL (the bench EXPLAINs it)."""
        dialect = session.get_bind().dialect.name
        xp: InstrumentedAttribute[Any] | None = getattr(self.model, "xp", None)
        statement: Select[Any] = select(self.model).where(
            *self.scope_clauses(session, scope),
            *self.filter_clauses(query.filters),
            *filter_clauses(self.fields, xp, query.field_filters, dialect),
        )
        columns = search_columns(self.fields, self.search_fields, query.search_on)
        if query.search and columns:
            statement = statement.where(search_clause(columns, query.search))
        return statement, sort_order(self.fields, query.sort_by, (self._id_column(),))

    def list(self, session: Session, query: ListQuery, scope: Scope) -> Page[RowT]:
        statement, order = self.list_statement(session, query, scope)
        return page_of(session, statement, query, order=order, id_column=self._id_column())

    def get(self, session: Session, object_id: str, scope: Scope) -> RowT:
        row = session.scalar(
            select(self.model).where(
                self._id_column() == object_id, *self.scope_clauses(session, scope)
            )
        )
        if row is None:
            raise self.not_found(object_id)
        return row  # type: ignore[return-value]

    def create(self, session: Session, values: Mapping[str, Any], scope: Scope) -> RowT:
        fields = dict(values)
        object_id = fields.pop("id", None) or self.generate_id()
        self.scope_clauses(session, scope)  # a missing parent is a 404 before anything else
        if session.get(self.model, object_id) is not None:
            raise self.id_exists(object_id)
        row = self.new_row(scope)
        row.id = object_id  # type: ignore[attr-defined]
        with session.no_autoflush:  # the checks query before the row may be written
            self.apply(session, row, fields)
            self.check(session, row)
        session.add(row)
        self._flush(session, object_id)
        return row

    def update(
        self, session: Session, object_id: str, scope: Scope, values: Mapping[str, Any]
    ) -> RowT:
        """PUT and PATCH alike: PUT passes every field, PATCH only the ones sent."""
        fields = dict(values)
        new_id_value = fields.pop("id", None)
        if new_id_value is not None and new_id_value != object_id:
            raise InvalidRequest(
                "ID cannot be changed; create a new object instead.", data={"Field": "ID"}
            )
        row = self.get(session, object_id, scope)
        with session.no_autoflush:
            self.apply(session, row, fields)
            self.check(session, row)
        self._flush(session, object_id)
        return row

    def save(
        self, session: Session, object_id: str, scope: Scope, values: Mapping[str, Any]
    ) -> tuple[RowT, bool]:
        """PUT, OrderCloud's Save: replace the object, or create it with this ID.

        Returns the row and whether it was created.
        """
        self.scope_clauses(session, scope)  # a missing parent is a 404 before anything else
        exists = session.scalar(
            select(self._id_column()).where(
                self._id_column() == object_id, *self.scope_clauses(session, scope)
            )
        )
        if exists is None:
            body_id = values.get("id")
            if body_id is not None and body_id != object_id:
                raise InvalidRequest(
                    "ID in the body differs from the ID in the path.", data={"Field": "ID"}
                )
            return self.create(session, {**values, "id": object_id}, scope), True
        return self.update(session, object_id, scope, values), False

    def patch(
        self, session: Session, object_id: str, scope: Scope, values: Mapping[str, Any]
    ) -> RowT:
        """PATCH: the fields sent replace the stored ones, except ``xp``, merged key by key."""
        fields = dict(values)
        if "xp" in fields:
            row = self.get(session, object_id, scope)
            fields["xp"] = merged_xp(getattr(row, "xp", None) or {}, fields["xp"] or {})
        return self.update(session, object_id, scope, fields)

    def delete(self, session: Session, object_id: str, scope: Scope) -> None:
        row = self.get(session, object_id, scope)
        self.check_delete(session, row)
        session.delete(row)
        session.flush()

    # --- errors -------------------------------------------------------------------------

    def not_found(self, object_id: str) -> NotFound:
        return NotFound(
            f"{self.object_type} not found: {object_id}",
            data={"ObjectType": self.object_type, "ObjectID": object_id},
        )

    def id_exists(self, object_id: str) -> IdExists:
        return IdExists(
            f"{self.object_type} already exists: {object_id}",
            data={"ObjectType": self.object_type, "ObjectID": object_id},
        )

    def conflict(self, object_id: str, error: IntegrityError) -> DomainError:
        """What a unique violation at flush means; a resource with more unique keys says."""
        return self.id_exists(object_id)

    def _flush(self, session: Session, object_id: str) -> None:
        # A concurrent write that passed the same checks loses the race here; the
        # request's transaction is rolled back by the caller.
        try:
            session.flush()
        except IntegrityError as error:
            raise self.conflict(object_id, error) from None


def without_nulls(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """A written JSON object as stored: members set to null are left out (absent = default)."""
    return {key: value for key, value in (document or {}).items() if value is not None}


def merged_xp(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` applied to ``stored`` as OrderCloud patches xp: key by key, nested
    objects merged the same way, a null value removing its key."""
    merged = dict(stored)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged_xp(merged[key], value)
        else:
            merged[key] = value
    return merged


def ensure_exists(session: Session, model: type[Base], object_type: str, object_id: str) -> Any:
    """The row, or :class:`NotFound` naming what was referenced."""
    row = session.get(model, object_id)
    if row is None:
        raise NotFound(
            f"{object_type} not found: {object_id}",
            data={"ObjectType": object_type, "ObjectID": object_id},
        )
    return row
