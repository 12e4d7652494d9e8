"""The three assignment lists: save (idempotent), list with filters, delete, references."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.models import SecurityProfileAssignment
from tests.integration.admin.conftest import AdminClient, error_of

PERSON = {"FirstName": "F", "LastName": "L", "Email": "f@example.com"}


def _world(admin: AdminClient) -> str:
    for buyer in ("b1", "b2"):
        assert admin.post("/v1/buyers", json={"ID": buyer, "Name": buyer}).status_code == 201
    admin.post("/v1/buyers/b1/users", json={"ID": "u1", "Username": "u1", **PERSON})
    admin.post("/v1/adminusers", json={"ID": "a1", "Username": "a1", **PERSON})
    admin.post("/v1/securityprofiles", json={"ID": "sp", "Name": "SP", "Roles": ["Shopper"]})
    admin.post(
        "/v1/messagesenders",
        json={"ID": "ms", "Name": "MS", "URL": "https://h.test", "SharedKey": "k"},
    )
    client = admin.post("/v1/apiclients", json={"AppName": "Store"})
    client_id: str = client.json["ID"]
    return client_id


def test_api_client_assignments_are_saved_once_listed_and_deleted(admin: AdminClient) -> None:
    client_id = _world(admin)
    path = "/v1/apiclients/assignments"
    for buyer in ("b1", "b2", "b1"):
        saved = admin.post(path, json={"ApiClientID": client_id, "BuyerID": buyer})
        assert saved.status_code == 204
    listed = admin.get(f"{path}?apiClientID={client_id}")
    assert listed.json["Items"] == [
        {"ApiClientID": client_id, "BuyerID": "b1"},
        {"ApiClientID": client_id, "BuyerID": "b2"},
    ]
    assert admin.get(f"{path}?buyerID=b2").json["Meta"]["TotalCount"] == 1

    assert admin.delete(f"{path}?apiClientID={client_id}&buyerID=b1").status_code == 204
    assert admin.delete(f"{path}?apiClientID={client_id}&buyerID=b1").status_code == 204
    assert [item["BuyerID"] for item in admin.get(path).json["Items"]] == ["b2"]

    incomplete = admin.delete(f"{path}?apiClientID={client_id}")
    assert incomplete.status_code == 400
    assert error_of(incomplete)["Data"]["Field"] == "buyerID"


def test_assignments_to_unknown_objects_are_404(admin: AdminClient) -> None:
    client_id = _world(admin)
    unknown_buyer = admin.post(
        "/v1/apiclients/assignments", json={"ApiClientID": client_id, "BuyerID": "ghost"}
    )
    assert unknown_buyer.status_code == 404
    assert error_of(unknown_buyer)["Data"] == {"ObjectType": "Buyer", "ObjectID": "ghost"}
    unknown_sender = admin.post("/v1/messagesenders/assignments", json={"MessageSenderID": "x"})
    assert unknown_sender.status_code == 404
    missing_key = admin.post("/v1/apiclients/assignments", json={"ApiClientID": client_id})
    assert missing_key.status_code == 400
    assert error_of(missing_key)["Data"]["Field"] == "BuyerID"


def test_security_profiles_are_assigned_at_marketplace_buyer_and_user_level(
    admin: AdminClient, committed_db: Engine
) -> None:
    _world(admin)
    path = "/v1/securityprofiles/assignments"
    levels = [
        {"SecurityProfileID": "sp"},
        {"SecurityProfileID": "sp", "BuyerID": "b2"},
        {"SecurityProfileID": "sp", "BuyerID": "b1", "UserID": "u1"},
        {"SecurityProfileID": "sp", "UserID": "a1"},
    ]
    for body in [*levels, levels[0]]:
        assert admin.post(path, json=body, roles=["SetSecurityProfile"]).status_code == 204
    with Session(committed_db) as session:
        count = session.scalar(select(func.count()).select_from(SecurityProfileAssignment))
        assert count == 4

    listed = admin.get(f"{path}?securityProfileID=sp", roles=["SecurityProfileReader"])
    assert listed.json["Meta"]["TotalCount"] == 4
    assert admin.get(f"{path}?userID=u1").json["Items"] == [
        {"SecurityProfileID": "sp", "BuyerID": "b1", "UserID": "u1"}
    ]

    # Deleting the marketplace-level one leaves the buyer and user levels alone.
    assert (
        admin.delete(f"{path}?securityProfileID=sp", roles=["SetSecurityProfile"]).status_code
        == 204
    )
    remaining = admin.get(path).json["Items"]
    assert len(remaining) == 3
    assert all(item["BuyerID"] or item["UserID"] for item in remaining)


def test_a_user_level_assignment_names_the_users_own_buyer(admin: AdminClient) -> None:
    _world(admin)
    path = "/v1/securityprofiles/assignments"
    for body in (
        {"SecurityProfileID": "sp", "UserID": "u1"},
        {"SecurityProfileID": "sp", "BuyerID": "b2", "UserID": "u1"},
        {"SecurityProfileID": "sp", "BuyerID": "b1", "UserID": "a1"},
    ):
        response = admin.post(path, json=body)
        assert response.status_code == 400, body
        assert error_of(response)["Data"] == {"Field": "BuyerID"}


def test_message_senders_are_assigned_to_the_marketplace_or_a_buyer(admin: AdminClient) -> None:
    _world(admin)
    path = "/v1/messagesenders/assignments"
    role = ["MessageConfigAssignmentAdmin"]
    assert admin.post(path, json={"MessageSenderID": "ms"}, roles=role).status_code == 204
    assert (
        admin.post(path, json={"MessageSenderID": "ms", "BuyerID": "b1"}, roles=role).status_code
        == 204
    )
    assert admin.get(f"{path}?messageSenderID=ms", roles=["MessageSenderReader"]).json["Items"] == [
        {"MessageSenderID": "ms", "BuyerID": "b1"},
        {"MessageSenderID": "ms", "BuyerID": None},
    ]
    assert admin.delete(f"{path}?messageSenderID=ms&buyerID=b1", roles=role).status_code == 204
    assert admin.get(path).json["Items"] == [{"MessageSenderID": "ms", "BuyerID": None}]
