"""The three assignment lists: save (idempotent), list with filters, delete, references."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.models import SecurityProfileAssignment
from tests.integration.admin.conftest import AdminClient, error_of

PERSON = {"FirstName": "F", "LastName": "L", "Email": "f@example.com"}
# What OrderCloud's models declare and this service never sets (no groups, no suppliers).
CLIENT_NULLS = {"SupplierID": None}
PROFILE_NULLS = {"SupplierID": None, "UserGroupID": None}
SENDER_NULLS = {
    "SupplierID": None,
    "UserGroupID": None,
    "MessageConfigName": None,
    "MessageConfigDescription": None,
}


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
        {"ApiClientID": client_id, "BuyerID": "b1", **CLIENT_NULLS},
        {"ApiClientID": client_id, "BuyerID": "b2", **CLIENT_NULLS},
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
    # The caller holds every role the profile gives (Shopper): it may hand it out.
    caller_roles = ["SetSecurityProfile", "Shopper"]
    for body in [*levels, levels[0]]:
        assert admin.post(path, json=body, roles=caller_roles).status_code == 204
    with Session(committed_db) as session:
        count = session.scalar(select(func.count()).select_from(SecurityProfileAssignment))
        assert count == 4

    listed = admin.get(f"{path}?securityProfileID=sp", roles=["SecurityProfileReader"])
    assert listed.json["Meta"]["TotalCount"] == 4
    assert admin.get(f"{path}?userID=u1").json["Items"] == [
        {"SecurityProfileID": "sp", "BuyerID": "b1", "UserID": "u1", **PROFILE_NULLS}
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
        {"MessageSenderID": "ms", "BuyerID": "b1", **SENDER_NULLS},
        {"MessageSenderID": "ms", "BuyerID": None, **SENDER_NULLS},
    ]
    assert admin.delete(f"{path}?messageSenderID=ms&buyerID=b1", roles=role).status_code == 204
    assert admin.get(path).json["Items"] == [
        {"MessageSenderID": "ms", "BuyerID": None, **SENDER_NULLS}
    ]


def test_ordercloud_delete_routes_remove_one_assignment_each(admin: AdminClient) -> None:
    client_id = _world(admin)
    admin.post("/v1/apiclients/assignments", json={"ApiClientID": client_id, "BuyerID": "b1"})
    admin.post("/v1/apiclients/assignments", json={"ApiClientID": client_id, "BuyerID": "b2"})
    for body in ({}, {"BuyerID": "b2"}, {"BuyerID": "b1", "UserID": "u1"}):
        admin.post("/v1/securityprofiles/assignments", json={"SecurityProfileID": "sp", **body})
    for body in ({}, {"BuyerID": "b1"}):
        admin.post("/v1/messagesenders/assignments", json={"MessageSenderID": "ms", **body})

    # ApiClients.DeleteBuyerAssignment(apiClientID, buyerID)
    client_path = f"/v1/buyers/b1/ApiClients/Assignments/{client_id}"
    for _ in range(2):  # idempotent
        assert admin.delete(client_path, roles=["ApiClientAdmin"]).status_code == 204
    clients = admin.get("/v1/apiclients/assignments").json["Items"]
    assert [item["BuyerID"] for item in clients] == ["b2"]

    # SecurityProfiles.DeleteAssignment(id, {buyerID, userID}): no party = marketplace level
    profile_path = "/v1/securityprofiles/sp/assignments"
    role = ["SetSecurityProfile"]
    assert admin.delete(f"{profile_path}?buyerID=b1&userID=u1", roles=role).status_code == 204
    # A user group is no party here: both forms delete nothing (not the marketplace one).
    assert admin.delete(f"{profile_path}?userGroupID=g1", roles=role).status_code == 204
    alias = "/v1/securityprofiles/assignments?securityProfileID=sp&userGroupID=g1"
    assert admin.delete(alias, roles=role).status_code == 204
    assert admin.get("/v1/securityprofiles/assignments").json["Meta"]["TotalCount"] == 2
    assert admin.delete(profile_path, roles=role).status_code == 204
    profiles = admin.get("/v1/securityprofiles/assignments").json["Items"]
    assert [(item["BuyerID"], item["UserID"]) for item in profiles] == [("b2", None)]

    # MessageSenders.DeleteAssignment(id, {buyerID})
    sender_path = "/v1/messagesenders/ms/assignments"
    role = ["MessageConfigAssignmentAdmin"]
    assert admin.delete(f"{sender_path}?buyerID=b1", roles=role).status_code == 204
    senders = admin.get("/v1/messagesenders/assignments").json["Items"]
    assert [item["BuyerID"] for item in senders] == [None]
    company = admin.get("/v1/messagesenders/assignments?level=Company").json
    assert company["Meta"]["TotalCount"] == 1
    groups = admin.get("/v1/messagesenders/assignments?level=Group").json
    assert groups["Meta"]["TotalCount"] == 0

    refused = admin.delete(client_path, roles=["ApiClientReader"])
    assert refused.status_code == 403


def test_security_profile_assignments_list_by_level_and_commerce_role(admin: AdminClient) -> None:
    _world(admin)
    path = "/v1/securityprofiles/assignments"
    for body in ({}, {"BuyerID": "b2"}, {"BuyerID": "b1", "UserID": "u1"}, {"UserID": "a1"}):
        admin.post(path, json={"SecurityProfileID": "sp", **body})

    def listed(query: str) -> set[tuple[str | None, str | None]]:
        response = admin.get(f"{path}?{query}")
        assert response.status_code == 200, response.json
        return {(item["BuyerID"], item["UserID"]) for item in response.json["Items"]}

    assert listed("level=User") == {("b1", "u1"), (None, "a1")}
    assert listed("level=Company") == {(None, None), ("b2", None)}
    assert listed("level=Company&commerceRole=Buyer") == {("b2", None)}
    assert listed("commerceRole=Seller") == {(None, None), (None, "a1")}
    assert listed("level=Group") == set()
    assert listed("userGroupID=g1") == set()
    assert listed("commerceRole=Supplier") == set()
    bad = admin.get(f"{path}?level=Everyone")
    assert bad.status_code == 400
    assert error_of(bad)["Data"]["Field"] == "level"


def test_assignments_to_user_groups_or_suppliers_are_refused(admin: AdminClient) -> None:
    _world(admin)
    refused = admin.post(
        "/v1/securityprofiles/assignments", json={"SecurityProfileID": "sp", "UserGroupID": "g1"}
    )
    assert refused.status_code == 400
    assert error_of(refused)["Data"]["Field"] == "UserGroupID"
    assert admin.get("/v1/securityprofiles/assignments").json["Meta"]["TotalCount"] == 0
