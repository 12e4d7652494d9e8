"""Nobody gives roles they do not hold (docs/authorization.md, "Nobody gives roles ...")."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.factories import make_profile
from tests.integration.admin.conftest import AdminClient, error_of

PERSON = {"FirstName": "F", "LastName": "L", "Email": "p@example.com"}


def test_a_profile_may_gain_only_roles_the_caller_holds_and_lose_any(admin: AdminClient) -> None:
    caller = ["SecurityProfileAdmin", "BuyerReader"]
    made = admin.post(
        "/v1/securityprofiles",
        roles=caller,
        json={"ID": "p", "Name": "P", "Roles": ["BuyerReader"]},
    )
    assert made.status_code == 201
    widened = admin.patch(
        "/v1/securityprofiles/p", roles=caller, json={"Roles": ["BuyerReader", "BuyerAdmin"]}
    )
    assert widened.status_code == 403
    assert error_of(widened)["Data"]["RolesNotHeld"] == ["BuyerAdmin"]
    custom = admin.patch("/v1/securityprofiles/p", roles=caller, json={"CustomRoles": ["x"]})
    assert custom.status_code == 403
    # FullAccess may give anything; anyone may take a role away.
    assert admin.patch("/v1/securityprofiles/p", json={"Roles": ["FullAccess"]}).status_code == 200
    narrowed = admin.patch("/v1/securityprofiles/p", roles=caller, json={"Roles": []})
    assert narrowed.status_code == 200


def test_an_assignment_needs_every_role_of_its_profile(admin: AdminClient) -> None:
    admin.post("/v1/securityprofiles", json={"ID": "rich", "Name": "R", "Roles": ["FullAccess"]})
    admin.post("/v1/adminusers", json={"ID": "a1", "Username": "a1", **PERSON})
    body = {"SecurityProfileID": "rich", "UserID": "a1"}
    path = "/v1/securityprofiles/assignments"
    refused = admin.post(path, roles=["SetSecurityProfile"], json=body)
    assert refused.status_code == 403
    assert error_of(refused)["Data"]["RolesNotHeld"] == ["FullAccess"]
    assert admin.post(path, json=body).status_code == 204


def test_creating_a_user_that_would_hold_roles_the_caller_lacks_is_refused(
    admin: AdminClient, committed_db: Engine
) -> None:
    """A scope-narrowed token cannot mint a user that marketplace-level roles reach."""
    with Session(committed_db) as session, session.begin():
        make_profile(session, roles=["FullAccess"], marketplace=True)
    new_user = {"ID": "a2", "Username": "a2", "Password": "pw-a2-pw-a2", **PERSON}
    refused = admin.post("/v1/adminusers", roles=["AdminUserAdmin"], json=new_user)
    assert refused.status_code == 403
    assert error_of(refused)["Data"]["RolesNotHeld"] == ["FullAccess"]
    assert admin.post("/v1/adminusers", json=new_user).status_code == 201


def test_a_message_senders_elevated_roles_follow_the_same_rule(admin: AdminClient) -> None:
    sender = {
        "ID": "ms",
        "Name": "MS",
        "URL": "https://hooks.example.com",
        "SharedKey": "k",
        "ElevatedRoles": ["BuyerAdmin"],
    }
    refused = admin.post("/v1/messagesenders", roles=["MessageSenderAdmin"], json=sender)
    assert refused.status_code == 403
    allowed = ["MessageSenderAdmin", "BuyerAdmin"]
    assert admin.post("/v1/messagesenders", roles=allowed, json=sender).status_code == 201
