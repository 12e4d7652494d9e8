"""One blueprint factory for every OrderCloud-style admin collection.

A resource declares a :class:`Collection` (its store from ``core``, its read and write
schemas, its resource name in the authorization rules, its path) and gets list / create /
get / PUT / PATCH / DELETE, item actions such as ``unlock``, authorization and its OpenAPI
operations from this module. Every route goes through :func:`api.auth.authorized`; a
collection's ``guard`` adds the grant rules that need the object (core.identity.authorization).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, Field, create_model
from sqlalchemy.orm import Session

from api.auth import authorized, current_principal
from api.openapi import Operation, document, openapi_path
from api.runtime import current_runtime
from api.wire import (
    MAX_TEXT,
    Text,
    WireModel,
    body_values,
    parse_body,
    parse_object_id,
    parse_query,
    patch_model_of,
)
from core.admin.collections import MAX_PAGE_SIZE, CollectionStore, ListQuery, Page, Scope
from core.identity.authorization import Principal, Verb
from core.platform.db import transaction
from core.platform.errors import InvalidRequest, NotFound

ItemT = TypeVar("ItemT")

# A grant rule run inside a write's transaction, after the object was found in its scope:
# (session, caller, object ID or None when creating, the scope, the values written).
Guard = Callable[[Session, Principal, str | None, Scope, Mapping[str, Any]], None]


class ListParams(BaseModel):
    """OrderCloud's list query: page, pageSize (at most 100), search, searchOn, sortBy.

    Every other query parameter of a collection's list is a property filter
    (:func:`property_filters`).
    """

    page: int = Field(default=1, ge=1, le=1_000_000)
    pageSize: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)  # noqa: N815 - OrderCloud's name
    search: Text | None = None
    searchOn: Text | None = Field(  # noqa: N815 - OrderCloud's name
        default=None, description="Comma-separated fields `search` looks in (default: all)."
    )
    sortBy: Text | None = Field(  # noqa: N815 - OrderCloud's name
        default=None, description="Comma-separated fields; '!Field' sorts descending."
    )

    def to_query(self, field_filters: tuple[tuple[str, str], ...] = ()) -> ListQuery:
        filters = self.model_dump(exclude=set(ListParams.model_fields), exclude_none=True)
        return ListQuery(
            self.page,
            self.pageSize,
            self.search,
            _names(self.sortBy),
            filters,
            search_on=_names(self.searchOn),
            field_filters=field_filters,
        )


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (value or "").split(",") if name.strip())


MAX_FILTERS = 20


def property_filters(params: type[ListParams]) -> tuple[tuple[str, str], ...]:
    """The request's query parameters that are OrderCloud property filters."""
    return split_filters(params, request.args.items(multi=True))


def split_filters(
    params: type[ListParams], pairs: Iterable[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """The query parameters that are not ``params``' own: OrderCloud's property filters.

    ``?Active=true&xp.Tier=gold|silver`` → ``(("Active", "true"), ("xp.Tier", "gold|silver"))``;
    a repeated name gives one pair per value (all must match).
    """
    own = set(params.model_fields) | {
        info.alias for info in params.model_fields.values() if info.alias
    }
    filters = tuple((name, value) for name, value in pairs if name not in own)
    if len(filters) > MAX_FILTERS:
        raise InvalidRequest(
            f"At most {MAX_FILTERS} filters per list.", data={"Field": filters[MAX_FILTERS][0]}
        )
    for name, value in filters:
        if len(name) > MAX_TEXT or len(value) > MAX_TEXT:
            raise InvalidRequest(
                f"A filter's name and value are at most {MAX_TEXT} characters.",
                data={"Field": name[:MAX_TEXT]},
            )
    return filters


class ListMeta(BaseModel):
    Page: int
    PageSize: int
    TotalCount: int
    TotalPages: int
    ItemRange: list[int]
    NextPageKey: str | None = Field(
        default=None, description="Always null: pages are numbered (page, pageSize)."
    )


class ListPage(BaseModel, Generic[ItemT]):
    Meta: ListMeta
    Items: list[ItemT]


def page_body(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Meta": {
            "Page": page.page,
            "PageSize": page.page_size,
            "TotalCount": page.total_count,
            "TotalPages": page.total_pages,
            "ItemRange": list(page.item_range),
            "NextPageKey": None,
        },
        "Items": items,
    }


@dataclass(frozen=True)
class ItemAction:
    """``POST <item>/<name>``: a write on one object that answers with the object; or,
    with ``method="DELETE"``, one that answers 204 (RevokeUserTokens)."""

    name: str
    summary: str
    run: Callable[[Session, str, Scope], Any]
    method: Literal["POST", "DELETE"] = "POST"


@dataclass(frozen=True)
class Collection:
    name: str  # "BuyerUser": OpenAPI tag, endpoint and schema prefix
    path: str  # Flask rule of the list, e.g. "/v1/buyers/<buyerID>/users"
    store: CollectionStore[Any]
    read_model: type[WireModel]
    write_model: type[WireModel] | None  # None: read-only (deliveries)
    resource: str  # its row in core.identity.authorization.RULES
    scope_params: Mapping[str, str] = field(default_factory=dict)  # path param → attribute
    list_params: type[ListParams] = ListParams
    actions: tuple[ItemAction, ...] = ()
    guard: Guard | None = None

    @property
    def write_only(self) -> frozenset[str]:
        """Fields a client may send but never reads back (secrets, passwords)."""
        if self.write_model is None:
            return frozenset()
        return frozenset(self.write_model.model_fields) - frozenset(self.read_model.model_fields)

    def scope(self, path: Mapping[str, str]) -> Scope:
        return {attribute: path[param] for param, attribute in self.scope_params.items()}

    def item(self, path: Mapping[str, str]) -> tuple[str, Scope]:
        """The object's ID and its scope, from an item route's path parameters."""
        return path["id"], self.scope(path)

    def views(self, session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return [
            self.read_model.model_validate(values, by_name=True).model_dump(
                mode="json", by_alias=True
            )
            for values in self.store.present_all(session, rows)
        ]

    def view(self, session: Session, row: Any) -> dict[str, Any]:
        return self.views(session, [row])[0]


def collection_blueprint(collection: Collection) -> Blueprint:
    """The routes, authorization and OpenAPI operations of one collection."""
    blueprint = Blueprint(f"admin_{collection.name}", __name__)
    store = collection.store

    def rule(verb: Verb) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return authorized(collection.resource, verb)

    item_path = collection.path + "/<id>"
    patch_model = patch_model_of(collection.write_model) if collection.write_model else None

    def sessions() -> AbstractContextManager[Session]:
        return transaction(current_runtime().sessions)

    @rule(Verb.LIST)
    def list_objects(**path: str) -> Response:
        params = parse_query(collection.list_params)
        query = params.to_query(property_filters(collection.list_params))
        with sessions() as session:
            page = store.list(session, query, collection.scope(path))
            return jsonify(page_body(page, collection.views(session, page.items)))

    @rule(Verb.GET)
    def get_object(**path: str) -> Response:
        with sessions() as session:
            return jsonify(collection.view(session, store.get(session, *collection.item(path))))

    blueprint.add_url_rule(collection.path, "list", list_objects, methods=["GET"])
    blueprint.add_url_rule(item_path, "get", get_object, methods=["GET"])

    if collection.write_model is not None and patch_model is not None:
        write_model = collection.write_model

        @rule(Verb.CREATE)
        def create_object(**path: str) -> tuple[Response, int]:
            values = body_values(
                parse_body(write_model), partial=False, write_only=collection.write_only
            )
            with sessions() as session:
                _guard(collection, session, path, values)
                row = store.create(session, values, collection.scope(path))
                return jsonify(collection.view(session, row)), 201

        @rule(Verb.UPDATE)
        def save_object(**path: str) -> tuple[Response, int]:
            """OrderCloud's Save: replace the object, or create it under the path's ID."""
            values = body_values(
                parse_body(write_model), partial=False, write_only=collection.write_only
            )
            object_id, scope = collection.item(path)
            with sessions() as session:
                _guard(collection, session, path, values, upsert=True)
                row, created = store.save(session, parse_object_id(object_id), scope, values)
                return jsonify(collection.view(session, row)), 201 if created else 200

        @rule(Verb.UPDATE)
        def patch_object(**path: str) -> Response:
            values = body_values(parse_body(patch_model), partial=True)
            with sessions() as session:
                _guard(collection, session, path, values)
                row = store.patch(session, *collection.item(path), values)
                return jsonify(collection.view(session, row))

        @rule(Verb.DELETE)
        def delete_object(**path: str) -> tuple[str, int]:
            with sessions() as session:
                _guard(collection, session, path, {})
                store.delete(session, *collection.item(path))
            return "", 204

        blueprint.add_url_rule(collection.path, "create", create_object, methods=["POST"])
        blueprint.add_url_rule(item_path, "save", save_object, methods=["PUT"])
        blueprint.add_url_rule(item_path, "patch", patch_object, methods=["PATCH"])
        blueprint.add_url_rule(item_path, "delete", delete_object, methods=["DELETE"])

    for action in collection.actions:
        blueprint.add_url_rule(
            f"{item_path}/{action.name}",
            action.name,
            _action_view(collection, action),
            methods=[action.method],
        )
    document(blueprint, *collection_operations(collection, patch_model))
    return blueprint


def _guard(
    collection: Collection,
    session: Session,
    path: Mapping[str, str],
    values: Mapping[str, Any],
    *,
    upsert: bool = False,
) -> None:
    """The collection's grant rule. An item is looked up in its scope first (404); a PUT
    naming a missing object creates it, so it is checked as a create."""
    if collection.guard is None:
        return
    object_id, scope = path.get("id"), collection.scope(path)  # no ID: a create
    if object_id is not None:
        try:
            collection.store.get(session, object_id, scope)
        except NotFound:
            if not upsert:
                raise
            object_id = None
    collection.guard(session, current_principal(), object_id, scope, values)


def _action_view(collection: Collection, action: ItemAction) -> Callable[..., Any]:
    @authorized(collection.resource, Verb.ACTION)
    def run_action(**path: str) -> Response | tuple[str, int]:
        with transaction(current_runtime().sessions) as session:
            row = action.run(session, *collection.item(path))
            if action.method == "DELETE":
                return "", 204
            return jsonify(collection.view(session, row))

    return run_action


def collection_operations(
    collection: Collection, patch_model: type[BaseModel] | None
) -> list[Operation]:
    """What the collection serves, for /openapi.json."""
    name, tag = collection.name, collection.name
    list_path = openapi_path(collection.path)
    item_path = openapi_path(collection.path + "/<id>")
    page_model = create_model(f"{name}List", __base__=ListPage[collection.read_model])  # type: ignore[name-defined]
    read = collection.read_model
    operations = [
        Operation(
            list_path,
            "get",
            f"List {name} objects",
            tag,
            query_model=collection.list_params,
            responses={200: page_model},
            errors=(400, 404),
        ),
        Operation(item_path, "get", f"Get one {name}", tag, responses={200: read}, errors=(404,)),
    ]
    if collection.write_model is not None and patch_model is not None:
        write = collection.write_model
        operations += [
            Operation(
                list_path,
                "post",
                f"Create a {name} (ID generated when absent)",
                tag,
                request_model=write,
                responses={201: read},
                errors=(400, 404, 409),
            ),
            Operation(
                item_path,
                "put",
                f"Save a {name}: replace it, or create it with this ID",
                tag,
                request_model=write,
                responses={200: read, 201: read},
                errors=(400, 404, 409),
            ),
            Operation(
                item_path,
                "patch",
                f"Update some fields of a {name}; xp is merged key by key (null removes)",
                tag,
                request_model=patch_model,
                responses={200: read},
                errors=(400, 404, 409),
            ),
            Operation(
                item_path,
                "delete",
                f"Delete a {name}",
                tag,
                responses={204: None},
                errors=(404, 409),  # 409 InUse: still referenced
            ),
        ]
    operations += [
        Operation(
            f"{item_path}/{action.name}",
            "delete" if action.method == "DELETE" else "post",
            action.summary,
            tag,
            responses={204: None} if action.method == "DELETE" else {200: read},
            errors=(404,),
        )
        for action in collection.actions
    ]
    return operations
