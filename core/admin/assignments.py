"""One mechanism for the assignment lists (client↔buyer, security profile, message sender).

An assignment is identified by its key attributes, some of which may be null (a null
``buyer_id`` on a security profile assignment means marketplace level). Saving is
idempotent and so is deleting, as in OrderCloud.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, false, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.admin.collections import ListQuery, Page, ensure_exists, page_of
from core.models import Base
from core.platform.errors import InvalidRequest

AssignmentT = TypeVar("AssignmentT", bound=Base)

# OrderCloud assigns to user groups and suppliers too; this service has neither, so a
# filter or a delete naming one matches no assignment.
UNSERVED_PARTIES = ("user_group_id", "supplier_id")


class AssignmentStore(Generic[AssignmentT]):
    model: ClassVar[type[Base]]
    keys: ClassVar[tuple[str, ...]]  # attribute names that identify one assignment
    # attribute -> (referenced model, its object type): each must exist when set
    references: ClassVar[Mapping[str, tuple[type[Base], str]]]

    def check(self, session: Session, values: Mapping[str, str | None]) -> None:
        """Rules across the keys (e.g. a user must belong to the given buyer)."""

    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        column: InstrumentedAttribute[Any] = getattr(self.model, name)
        return column

    def _matching(self, values: Mapping[str, str | None]) -> list[ColumnElement[bool]]:
        return [
            self._column(name).is_(None) if value is None else self._column(name) == value
            for name, value in values.items()
        ]

    def filter_clauses(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        """WHERE clauses for filters other than the keys (OrderCloud's ``level`` and the
        user groups and suppliers this service does not have, which match nothing)."""
        if any(filters.get(name) is not None for name in UNSERVED_PARTIES):
            return [false()]
        return []

    def list(self, session: Session, query: ListQuery) -> Page[AssignmentT]:
        """Assignments whose keys equal the given filters (absent filters match anything)."""
        given = {name: value for name, value in query.filters.items() if name in self.keys}
        statement: Select[Any] = select(self.model).where(
            *(self._column(name) == value for name, value in given.items()),
            *self.filter_clauses(query.filters),
        )
        for name, sent in (("sortBy", query.sort_by), ("searchOn", query.search_on)):
            if sent:
                raise InvalidRequest(
                    f"{name}: assignments are listed in the order of their IDs.",
                    data={"Field": name},
                )
        order = [(self._column(name), False) for name in self.keys]
        return page_of(session, statement, query, order=order)

    def save(self, session: Session, values: Mapping[str, str | None]) -> None:
        keyed = {name: values.get(name) for name in self.keys}
        for name, (model, object_type) in self.references.items():
            if keyed.get(name) is not None:
                ensure_exists(session, model, object_type, str(keyed[name]))
        self.check(session, keyed)
        existing = session.scalar(select(self.model).where(*self._matching(keyed)))
        if existing is None:
            session.add(self.model(**keyed))
            session.flush()

    def delete(self, session: Session, values: Mapping[str, str | None]) -> None:
        """Remove the assignment the keys name (absent keys are null); none is fine."""
        if any(values.get(name) is not None for name in UNSERVED_PARTIES):
            return
        if any(values.get(name) is not None for name in values if name not in self.keys):
            return  # a key this kind of assignment does not have (a sender's UserID)
        keyed = {name: values.get(name) for name in self.keys}
        for row in session.scalars(select(self.model).where(*self._matching(keyed))).all():
            session.delete(row)
        session.flush()

    def present(self, row: AssignmentT) -> dict[str, Any]:
        return {name: getattr(row, name) for name in self.keys}
