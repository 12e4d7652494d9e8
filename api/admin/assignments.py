"""One blueprint factory for the assignment lists, and the three of them.

Routes: ``GET <path>`` lists (filters are the camelCase query parameters), ``POST <path>``
saves one assignment (idempotent, 204), and OrderCloud's delete routes remove one
(idempotent, 204): ``DELETE /v1/buyers/{buyerID}/ApiClients/Assignments/{apiClientID}``,
``DELETE /v1/securityprofiles/{id}/assignments?buyerID=&userID=&userGroupID=`` and
``DELETE /v1/messagesenders/{id}/assignments?buyerID=&userGroupID=``. The older
``DELETE <path>?<keys>`` form stays as an alias.

OrderCloud also assigns to user groups and suppliers; this service has neither, so a
``UserGroupID`` or ``SupplierID`` is refused on save, matches nothing in a list, and
deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, Field, create_model
from sqlalchemy.orm import Session

from api.admin.collection import ListPage, ListParams, page_body
from api.auth import authorized, current_principal
from api.openapi import Operation, document, openapi_path
from api.runtime import current_runtime
from api.wire import ObjectId, WireModel, parse_body, parse_query, pascal_alias
from core.admin.assignments import UNSERVED_PARTIES, AssignmentStore
from core.admin.identity import ApiClientAssignmentStore, SecurityProfileAssignmentStore
from core.admin.messaging import MessageSenderAssignmentStore
from core.identity.authorization import Principal, Verb, check_profile_assignment
from core.platform.db import transaction
from core.platform.errors import InvalidRequest


class PartyQuery(BaseModel):
    """Whom an OrderCloud delete route's assignment is to, as query parameters."""

    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")
    user_id: ObjectId | None = Field(default=None, alias="userID")
    user_group_id: ObjectId | None = Field(default=None, alias="userGroupID")
    supplier_id: ObjectId | None = Field(default=None, alias="supplierID")


class NoQuery(BaseModel):
    """No query parameters."""


@dataclass(frozen=True)
class DeleteRoute:
    """An OrderCloud route that deletes one assignment: some keys in the path, the
    others (if any) in the query."""

    path: str  # Flask rule
    path_keys: Mapping[str, str]  # path parameter -> store key
    query_model: type[BaseModel] = PartyQuery


@dataclass(frozen=True)
class Assignments:
    name: str  # "ApiClientAssignment": OpenAPI tag and schema name
    path: str
    store: AssignmentStore[Any]
    body_model: type[WireModel]  # PascalCase keys; the required ones identify the owner
    query_model: type[ListParams]  # the same keys as camelCase query parameters
    resource: str  # its row in core.identity.authorization.RULES
    # A grant rule run before saving: (session, caller, the assignment's keys).
    guard: Callable[[Session, Principal, Mapping[str, Any]], None] | None = None
    delete_routes: tuple[DeleteRoute, ...] = field(default_factory=tuple)


def assignments_blueprint(assignments: Assignments) -> Blueprint:
    blueprint = Blueprint(f"admin_{assignments.name}", __name__)
    store, body_model, resource = assignments.store, assignments.body_model, assignments.resource

    @authorized(resource, Verb.LIST)
    def list_assignments() -> Response:
        query = parse_query(assignments.query_model).to_query()
        with transaction(current_runtime().sessions) as session:
            page = store.list(session, query)
            items = [
                body_model.model_validate(store.present(row), by_name=True).model_dump(
                    mode="json", by_alias=True
                )
                for row in page.items
            ]
            return jsonify(page_body(page, items))

    @authorized(resource, Verb.CREATE)
    def save_assignment() -> tuple[str, int]:
        values = parse_body(body_model).model_dump()
        for name in UNSERVED_PARTIES:
            if values.pop(name, None) is not None:
                alias = pascal_alias(name)
                raise InvalidRequest(
                    f"{alias}: this service has no user groups or suppliers to assign to.",
                    data={"Field": alias},
                )
        values = {name: value for name, value in values.items() if name in store.keys}
        with transaction(current_runtime().sessions) as session:
            if assignments.guard is not None:
                assignments.guard(session, current_principal(), values)
            store.save(session, values)
        return "", 204

    @authorized(resource, Verb.DELETE)
    def delete_assignment() -> tuple[str, int]:
        query = parse_query(assignments.query_model)
        names = (*store.keys, *UNSERVED_PARTIES)
        values = {key: getattr(query, key, None) for key in names}
        for key, info in body_model.model_fields.items():
            if info.is_required() and values.get(key) is None:
                alias = assignments.query_model.model_fields[key].alias or key
                raise InvalidRequest(f"{alias} is required.", data={"Field": alias})
        with transaction(current_runtime().sessions) as session:
            store.delete(session, values)
        return "", 204

    blueprint.add_url_rule(assignments.path, "list", list_assignments, methods=["GET"])
    blueprint.add_url_rule(assignments.path, "save", save_assignment, methods=["POST"])
    blueprint.add_url_rule(assignments.path, "delete", delete_assignment, methods=["DELETE"])
    for number, route in enumerate(assignments.delete_routes):
        blueprint.add_url_rule(
            route.path,
            f"delete_{number}",
            _delete_view(store, resource, route),
            methods=["DELETE"],
        )

    page_model: type[BaseModel] = create_model(
        f"{assignments.name}List",
        __base__=ListPage[body_model],  # type: ignore[valid-type]
    )
    path, tag = assignments.path, assignments.name
    document(
        blueprint,
        Operation(
            path,
            "get",
            f"List {tag} objects",
            tag,
            query_model=assignments.query_model,
            responses={200: page_model},
        ),
        Operation(
            path,
            "post",
            f"Save a {tag} (idempotent)",
            tag,
            request_model=body_model,
            responses={204: None},
            errors=(400, 404),
        ),
        Operation(
            path,
            "delete",
            f"Delete a {tag} named by the query parameters (idempotent; an alias of the "
            "OrderCloud route)",
            tag,
            query_model=assignments.query_model,
            responses={204: None},
        ),
        *(
            Operation(
                openapi_path(route.path),
                "delete",
                f"Delete a {tag} (idempotent)",
                tag,
                query_model=None if route.query_model is NoQuery else route.query_model,
                responses={204: None},
            )
            for route in assignments.delete_routes
        ),
    )
    return blueprint


def _delete_view(
    store: AssignmentStore[Any], resource: str, route: DeleteRoute
) -> Callable[..., tuple[str, int]]:
    @authorized(resource, Verb.DELETE)
    def delete_assignment(**path: str) -> tuple[str, int]:
        party = parse_query(route.query_model).model_dump(by_alias=False)
        values = {**party, **{key: path[param] for param, key in route.path_keys.items()}}
        with transaction(current_runtime().sessions) as session:
            store.delete(session, values)
        return "", 204

    return delete_assignment


class ApiClientAssignment(WireModel):
    api_client_id: ObjectId
    buyer_id: ObjectId
    supplier_id: ObjectId | None = Field(default=None, description="Always null here.")


class ApiClientAssignmentQuery(ListParams):
    api_client_id: ObjectId | None = Field(default=None, alias="apiClientID")
    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")
    supplier_id: ObjectId | None = Field(default=None, alias="supplierID")


class SecurityProfileAssignment(WireModel):
    """Marketplace level: neither BuyerID nor UserID; buyer level; or user level."""

    security_profile_id: ObjectId
    buyer_id: ObjectId | None = None
    supplier_id: ObjectId | None = Field(default=None, description="Always null here.")
    user_id: ObjectId | None = None
    user_group_id: ObjectId | None = Field(default=None, description="Always null here.")


class SecurityProfileAssignmentQuery(ListParams):
    security_profile_id: ObjectId | None = Field(default=None, alias="securityProfileID")
    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")
    supplier_id: ObjectId | None = Field(default=None, alias="supplierID")
    user_id: ObjectId | None = Field(default=None, alias="userID")
    user_group_id: ObjectId | None = Field(default=None, alias="userGroupID")
    commerce_role: Literal["Buyer", "Seller", "Supplier"] | None = Field(
        default=None, alias="commerceRole"
    )
    level: Literal["User", "Group", "Company"] | None = Field(
        default=None, description="User: to one user; Company: to a buyer or the marketplace."
    )


class MessageSenderAssignment(WireModel):
    """Marketplace level when BuyerID is null."""

    message_sender_id: ObjectId
    buyer_id: ObjectId | None = None
    supplier_id: ObjectId | None = Field(default=None, description="Always null here.")
    user_group_id: ObjectId | None = Field(default=None, description="Always null here.")
    message_config_name: str | None = Field(default=None, description="Read-only; null here.")
    message_config_description: str | None = Field(
        default=None, description="Read-only; null here."
    )


class MessageSenderAssignmentQuery(ListParams):
    message_sender_id: ObjectId | None = Field(default=None, alias="messageSenderID")
    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")
    supplier_id: ObjectId | None = Field(default=None, alias="supplierID")
    user_group_id: ObjectId | None = Field(default=None, alias="userGroupID")
    level: Literal["Group", "Company"] | None = Field(
        default=None, description="Every sender assignment here is at Company level."
    )


def all_assignments() -> list[Assignments]:
    return [
        Assignments(
            name="ApiClientAssignment",
            path="/v1/apiclients/assignments",
            store=ApiClientAssignmentStore(),
            body_model=ApiClientAssignment,
            query_model=ApiClientAssignmentQuery,
            resource="ApiClientAssignment",
            delete_routes=(
                DeleteRoute(
                    "/v1/buyers/<buyerID>/ApiClients/Assignments/<apiClientID>",
                    {"buyerID": "buyer_id", "apiClientID": "api_client_id"},
                    NoQuery,
                ),
            ),
        ),
        Assignments(
            name="SecurityProfileAssignment",
            path="/v1/securityprofiles/assignments",
            store=SecurityProfileAssignmentStore(),
            body_model=SecurityProfileAssignment,
            query_model=SecurityProfileAssignmentQuery,
            resource="SecurityProfileAssignment",
            guard=check_profile_assignment,
            delete_routes=(
                DeleteRoute("/v1/securityprofiles/<id>/assignments", {"id": "security_profile_id"}),
            ),
        ),
        Assignments(
            name="MessageSenderAssignment",
            path="/v1/messagesenders/assignments",
            store=MessageSenderAssignmentStore(),
            body_model=MessageSenderAssignment,
            query_model=MessageSenderAssignmentQuery,
            resource="MessageSenderAssignment",
            delete_routes=(
                DeleteRoute("/v1/messagesenders/<id>/assignments", {"id": "message_sender_id"}),
            ),
        ),
    ]
