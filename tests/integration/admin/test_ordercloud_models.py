"""Responses carry every property OrderCloud's SDK 12 models declare (null where the
service has no value), and the dates the service keeps are kept up to date."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from core.models import User
from tests.integration.admin.conftest import AdminClient, error_of

# The properties of ordercloud-javascript-sdk 12's models (dist/models/*.d.ts), less the
# write-only ones (Password, ClientSecret), which are never returned.
SDK_PROPERTIES = {
    "ApiClient": {
        "ID", "AccessTokenDuration", "Active", "AppName", "RefreshTokenDuration",
        "AnonymousTokenDuration", "DefaultContextUserName", "xp", "AllowAnyBuyer",
        "AllowAnySupplier", "AllowSeller", "IsAnonBuyer", "AssignedBuyerCount",
        "AssignedSupplierCount", "OrderCheckoutIntegrationEventID",
        "OrderCheckoutIntegrationEventName", "OrderReturnIntegrationEventID",
        "OrderReturnIntegrationEventName", "AddToCartIntegrationEventID",
        "AddToCartIntegrationEventName", "MinimumRequiredRoles", "MinimumRequiredCustomRoles",
        "MaximumGrantedRoles", "MaximumGrantedCustomRoles",
    },
    "Buyer": {"ID", "Name", "DefaultCatalogID", "Active", "DateCreated", "xp"},
    "User": {
        "FailedLoginAttempts", "ID", "CompanyID", "Username", "FirstName", "LastName", "Email",
        "Phone", "TermsAccepted", "Active", "xp", "AvailableRoles", "Locale", "DateCreated",
        "LastActive", "PasswordLastSetDate",
    },
    "MeUser": {
        "Buyer", "Supplier", "Seller", "ID", "CompanyID", "Username", "FirstName", "LastName",
        "Email", "Phone", "TermsAccepted", "Active", "xp", "AvailableRoles", "Locale",
        "DateCreated", "LastActive", "PasswordLastSetDate",
    },
    "SecurityProfile": {
        "ID", "Name", "Roles", "CustomRoles", "PasswordConfig", "IsExternalRoleGroup",
    },
    "PasswordConfig": {
        "LimitPasswordReuse", "MaxConsecutiveDupeChars", "MaximumPasswordAge",
        "MinimumPasswordAge", "AllowedFailedAttempts", "LockoutDuration", "UpperCaseRequired",
        "LowerCaseRequired", "SpecialCharacterRequired", "NumericRequired",
        "MinimumCharacterCount",
    },
    "MessageSender": {
        "ID", "Name", "MessageTypes", "Description", "ElevatedRoles", "xp", "DeliveryConfigID",
        "AllowAllBuyers",
    },
    "DeliveryConfig": {"ID", "Name", "Enabled", "DeliveryTargets"},
    "Meta": {"Page", "PageSize", "TotalCount", "TotalPages", "ItemRange", "NextPageKey"},
}  # fmt: skip

PERSON = {"FirstName": "Sam", "LastName": "Shopper", "Email": "sam@example.com"}


def _missing(model: str, body: dict[str, object]) -> set[str]:
    return SDK_PROPERTIES[model] - set(body)


def test_every_resource_returns_every_property_of_its_sdk_model(admin: AdminClient) -> None:
    client = admin.post("/v1/apiclients", json={"AppName": "Store"}).json
    buyer = admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme"}).json
    user = admin.post("/v1/buyers/acme/users", json={"Username": "sam", **PERSON}).json
    admin_user = admin.post("/v1/adminusers", json={"Username": "ada", **PERSON}).json
    profile = admin.post("/v1/securityprofiles", json={"Name": "P"}).json
    config = admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "ID": "hooks",
            "Name": "Hooks",
            "DeliveryTargets": {"Http": {"Endpoint": "https://hooks.test/x", "Secret": "s"}},
        },
    ).json
    sender = admin.post(
        "/v1/messagesenders",
        json={"Name": "S", "MessageTypes": ["OneTimePassword"], "DeliveryConfigID": "hooks"},
    ).json

    assert _missing("ApiClient", client) == set()
    assert _missing("Buyer", buyer) == set()
    assert _missing("User", user) == set()
    assert _missing("User", admin_user) == set()
    assert _missing("SecurityProfile", profile) == set()
    assert _missing("PasswordConfig", profile["PasswordConfig"]) == set()
    assert _missing("MessageSender", sender) == set()
    assert _missing("DeliveryConfig", config) == set()
    assert _missing("Meta", admin.get("/v1/buyers").json["Meta"]) == set()
    assert (user["CompanyID"], admin_user["CompanyID"]) == ("acme", None)
    assert (client["IsAnonBuyer"], client["AssignedSupplierCount"]) == (False, 0)
    assert (sender["AllowAllBuyers"], profile["IsExternalRoleGroup"]) == (False, False)
    assert buyer["DateCreated"] and user["DateCreated"]


def test_a_user_shows_the_roles_its_profiles_grant_and_when_its_password_was_set(
    admin: AdminClient,
) -> None:
    admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme"})
    user = {"ID": "sam", "Username": "sam", **PERSON}
    created = admin.post("/v1/buyers/acme/users", json=user).json
    assert (created["AvailableRoles"], created["PasswordLastSetDate"]) == ([], None)
    admin.post("/v1/securityprofiles", json={"ID": "shop", "Name": "Shop", "Roles": ["Shopper"]})
    admin.post(
        "/v1/securityprofiles",
        json={"ID": "me", "Name": "Me", "Roles": ["MeAdmin"], "CustomRoles": ["CanDance"]},
    )
    admin.post(
        "/v1/securityprofiles/assignments", json={"SecurityProfileID": "shop", "BuyerID": "acme"}
    )
    admin.post(
        "/v1/securityprofiles/assignments",
        json={"SecurityProfileID": "me", "BuyerID": "acme", "UserID": "sam"},
    )

    with_password = admin.patch(
        "/v1/buyers/acme/users/sam",
        json={"Password": "a-long-password-1", "TermsAccepted": "2026-01-02T03:04:05Z"},
    ).json

    assert with_password["AvailableRoles"] == ["CanDance", "MeAdmin", "Shopper"]
    assert with_password["PasswordLastSetDate"] is not None
    assert with_password["TermsAccepted"] == "2026-01-02T03:04:05Z"
    listed = admin.get("/v1/buyers/acme/users").json["Items"]
    assert listed[0]["AvailableRoles"] == ["CanDance", "MeAdmin", "Shopper"]
    naive = admin.patch("/v1/buyers/acme/users/sam", json={"TermsAccepted": "2026-01-02T03:04"})
    assert naive.status_code == 400
    assert error_of(naive)["Data"]["Field"] == "TermsAccepted"


def test_last_active_is_the_last_successful_sign_in(
    admin: AdminClient, committed_db: Engine
) -> None:
    admin.post("/v1/adminusers", json={"ID": "ada", "Username": "ada", **PERSON})
    assert admin.get("/v1/adminusers/ada").json["LastActive"] is None
    signed_in = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    with Session(committed_db) as session:  # what the token handler records on success
        session.execute(update(User).where(User.id == "ada").values(last_login_at=signed_in))
        session.commit()

    assert admin.get("/v1/adminusers/ada").json["LastActive"] == "2026-03-04T05:06:07Z"


def test_unsupported_api_client_features_are_refused_unless_off(admin: AdminClient) -> None:
    off = {"AppName": "Store", "IsAnonBuyer": False, "MaximumGrantedRoles": None}
    assert admin.post("/v1/apiclients", json=off).status_code == 201
    for field, value in (
        ("IsAnonBuyer", True),
        ("MaximumGrantedRoles", ["Shopper"]),
        ("OrderCheckoutIntegrationEventID", "checkout"),
    ):
        refused = admin.post("/v1/apiclients", json={"AppName": "Store", field: value})
        assert refused.status_code == 400, field
        assert error_of(refused)["Data"]["Field"] == field


def test_a_buyer_stores_its_default_catalog_id(admin: AdminClient) -> None:
    body = {"ID": "acme", "Name": "Acme", "DefaultCatalogID": "main"}
    assert admin.post("/v1/buyers", json=body).json["DefaultCatalogID"] == "main"
    assert admin.get("/v1/buyers/acme").json["DefaultCatalogID"] == "main"


def test_me_returns_every_property_of_the_sdks_me_user(admin: AdminClient) -> None:
    admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme", "DefaultCatalogID": "main"})
    admin.post("/v1/buyers/acme/users", json={"ID": "sam", "Username": "sam", **PERSON})
    token = admin.token(["Shopper", "MeAdmin"], username="sam", user_type="buyer")

    me = admin.request("GET", "/v1/me", token=token)

    assert me.status_code == 200, me.json
    assert _missing("MeUser", me.json) == set()
    assert me.json["Buyer"] == {"ID": "acme", "DefaultCatalogID": "main"}
    assert (me.json["CompanyID"], me.json["Seller"], me.json["Supplier"]) == ("acme", None, None)


def test_roles_and_message_types_without_behaviour_are_stored_and_returned(
    admin: AdminClient,
) -> None:
    roles = ["BundleAdmin", "LocaleAdmin", "OpenIDConnectAdmin", "TrackingEventAdmin"]
    profile = admin.post("/v1/securityprofiles", json={"Name": "P", "Roles": roles})
    assert profile.status_code == 201, profile.json
    assert admin.get(f"/v1/securityprofiles/{profile.json['ID']}").json["Roles"] == roles
    types = ["ForgottenUsername", "SubscriptionReminder", "ProductCollectionInvitationAccepted"]
    sender = admin.post(
        "/v1/messagesenders",
        json={"Name": "S", "MessageTypes": types, "URL": "https://h.test", "SharedKey": "k"},
    )
    assert sender.status_code == 201, sender.json
    assert sender.json["MessageTypes"] == types
    unknown = admin.post("/v1/securityprofiles", json={"Name": "P", "Roles": ["Wizard"]})
    assert unknown.status_code == 400
