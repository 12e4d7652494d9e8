"""One blueprint factory for the assignment lists, and the three of them.

Routes (ours where OrderCloud's differ, so that all three work alike):
``GET <path>`` lists (filters are the camelCase query parameters), ``POST <path>`` saves
one assignment (idempotent, 204), ``DELETE <path>?<keys>`` removes one (idempotent, 204).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, Field, create_model

from api.admin.collection import ListPage, ListParams, Roles, page_body
from api.auth import require_roles
from api.openapi import Operation, document
from api.runtime import current_runtime
from api.wire import ObjectId, WireModel, parse_body, parse_query
from core.admin.assignments import AssignmentStore
from core.admin.identity import ApiClientAssignmentStore, SecurityProfileAssignmentStore
from core.admin.messaging import MessageSenderAssignmentStore
from core.platform.db import transaction
from core.platform.errors import InvalidRequest


@dataclass(frozen=True)
class Assignments:
    name: str  # "ApiClientAssignment": OpenAPI tag and schema name
    path: str
    store: AssignmentStore[Any]
    body_model: type[WireModel]  # PascalCase keys; the required ones identify the owner
    query_model: type[ListParams]  # the same keys as camelCase query parameters
    roles: Roles


def assignments_blueprint(assignments: Assignments) -> Blueprint:
    blueprint = Blueprint(f"admin_{assignments.name}", __name__)
    store, roles, body_model = assignments.store, assignments.roles, assignments.body_model

    def list_assignments() -> Response:
        require_roles(roles.read)
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

    def save_assignment() -> tuple[str, int]:
        require_roles(roles.write)
        values = parse_body(body_model).model_dump()
        with transaction(current_runtime().sessions) as session:
            store.save(session, values)
        return "", 204

    def delete_assignment() -> tuple[str, int]:
        require_roles(roles.write)
        query = parse_query(assignments.query_model)
        values = {key: getattr(query, key) for key in store.keys}
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
            f"Delete a {tag} named by the query parameters (idempotent)",
            tag,
            query_model=assignments.query_model,
            responses={204: None},
        ),
    )
    return blueprint


class ApiClientAssignment(WireModel):
    api_client_id: ObjectId
    buyer_id: ObjectId


class ApiClientAssignmentQuery(ListParams):
    api_client_id: ObjectId | None = Field(default=None, alias="apiClientID")
    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")


class SecurityProfileAssignment(WireModel):
    """Marketplace level: neither BuyerID nor UserID; buyer level; or user level."""

    security_profile_id: ObjectId
    buyer_id: ObjectId | None = None
    user_id: ObjectId | None = None


class SecurityProfileAssignmentQuery(ListParams):
    security_profile_id: ObjectId | None = Field(default=None, alias="securityProfileID")
    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")
    user_id: ObjectId | None = Field(default=None, alias="userID")


class MessageSenderAssignment(WireModel):
    """Marketplace level when BuyerID is null."""

    message_sender_id: ObjectId
    buyer_id: ObjectId | None = None


class MessageSenderAssignmentQuery(ListParams):
    message_sender_id: ObjectId | None = Field(default=None, alias="messageSenderID")
    buyer_id: ObjectId | None = Field(default=None, alias="buyerID")


def all_assignments() -> list[Assignments]:
    return [
        Assignments(
            name="ApiClientAssignment",
            path="/v1/apiclients/assignments",
            store=ApiClientAssignmentStore(),
            body_model=ApiClientAssignment,
            query_model=ApiClientAssignmentQuery,
            roles=Roles.family("ApiClient"),
        ),
        Assignments(
            name="SecurityProfileAssignment",
            path="/v1/securityprofiles/assignments",
            store=SecurityProfileAssignmentStore(),
            body_model=SecurityProfileAssignment,
            query_model=SecurityProfileAssignmentQuery,
            roles=Roles(
                read=frozenset(
                    {"SecurityProfileAdmin", "SecurityProfileReader", "SetSecurityProfile"}
                ),
                write=frozenset({"SetSecurityProfile"}),
            ),
        ),
        Assignments(
            name="MessageSenderAssignment",
            path="/v1/messagesenders/assignments",
            store=MessageSenderAssignmentStore(),
            body_model=MessageSenderAssignment,
            query_model=MessageSenderAssignmentQuery,
            roles=Roles(
                read=frozenset(
                    {"MessageSenderAdmin", "MessageSenderReader", "MessageConfigAssignmentAdmin"}
                ),
                write=frozenset({"MessageConfigAssignmentAdmin"}),
            ),
        ),
    ]
