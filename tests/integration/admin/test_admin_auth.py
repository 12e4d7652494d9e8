"""Bearer tokens and roles on every admin route, and /v1/me."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.platform.settings import Settings
from tests.factories import make_buyer, make_client, make_user
from tests.integration.admin.conftest import AdminClient, error_of

_PARAMETER = re.compile(r"<(?:\w+:)?\w+>")
# Routes under /v1 that are not admin resources: any token (/v1/me) or none at all.
NOT_ADMIN_ROUTES = {"/v1/me", "/v1/password/onetimepassword"}


def admin_routes(admin: AdminClient) -> list[tuple[str, str]]:
    """(method, path) of every admin route the app serves, with placeholders filled in."""
    routes = []
    for rule in admin.client.application.url_map.iter_rules():
        if not rule.rule.startswith("/v1/") or rule.rule in NOT_ADMIN_ROUTES:
            continue
        path = _PARAMETER.sub("x", rule.rule)
        routes.extend((method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return routes


def test_the_admin_routes_cover_every_resource_of_the_contract(admin: AdminClient) -> None:
    paths = {path for _, path in admin_routes(admin)}
    for expected in (
        "/v1/apiclients",
        "/v1/apiclients/assignments",
        "/v1/buyers",
        "/v1/buyers/x/users/x/unlock",
        "/v1/adminusers/x/unlock",
        "/v1/securityprofiles/assignments",
        "/v1/messagesenders/assignments",
        "/v1/integrations/deliveryconfig/x",
        "/v1/deliveries/x",
    ):
        assert expected in paths


def test_every_admin_route_answers_401_without_a_valid_token(admin: AdminClient) -> None:
    expired = admin.token(
        ["FullAccess"], now=datetime.now(UTC) - timedelta(hours=2), lifetime=timedelta(hours=1)
    )
    for method, path in admin_routes(admin):
        for token in (None, "not-a-jwt", expired, admin.token(["FullAccess"])[:-4] + "AAAA"):
            response = admin.request(method, path, token=token, json={})
            assert response.status_code == 401, (method, path, token, response.json)
            assert error_of(response)["ErrorCode"] == "InvalidToken"
        basic = admin.request(method, path, headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert basic.status_code == 401


def test_every_admin_route_answers_403_to_a_shopper(admin: AdminClient) -> None:
    for method, path in admin_routes(admin):
        response = admin.request(method, path, roles=["Shopper", "MeAdmin"], json={})
        assert response.status_code == 403, (method, path)
        error = error_of(response)
        assert error["ErrorCode"] == "InsufficientRoles"
        assert "FullAccess" in error["Data"]["SufficientRoles"]


def test_a_token_from_another_key_is_refused(admin: AdminClient, settings: Settings) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from core.auth.tokens import TokenKeys

    other_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    other_keys = TokenKeys(settings.replace(jwt_private_key=other_pem))
    other = AdminClient(admin.client, other_keys, admin.sessions)
    response = other.get("/v1/buyers")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "reader", "admin_role"),
    [
        ("/v1/apiclients", "ApiClientReader", "ApiClientAdmin"),
        ("/v1/buyers", "BuyerReader", "BuyerAdmin"),
        ("/v1/adminusers", "AdminUserReader", "AdminUserAdmin"),
        ("/v1/securityprofiles", "SecurityProfileReader", "SecurityProfileAdmin"),
        ("/v1/messagesenders", "MessageSenderReader", "MessageSenderAdmin"),
    ],
)
def test_readers_may_read_but_only_admins_may_write(
    admin: AdminClient, path: str, reader: str, admin_role: str
) -> None:
    assert admin.get(path, roles=[reader]).status_code == 200
    assert admin.get(path, roles=[admin_role]).status_code == 200
    assert admin.post(path, roles=[reader], json={"Name": "x"}).status_code == 403
    assert admin.get(path, roles=["BuyerUserReader"]).status_code == 403
    write = admin.post(path, roles=[admin_role], json={})
    assert write.status_code == 400  # past the role check, stopped by validation


def test_role_families_that_differ_from_the_pattern(admin: AdminClient) -> None:
    assert (
        admin.get("/v1/integrations/deliveryconfig", roles=["DeliveryConfigAdmin"]).status_code
        == 200
    )
    assert admin.get("/v1/deliveries", roles=["MessageSenderReader"]).status_code == 200
    assert admin.get("/v1/buyers/x/users", roles=["BuyerUserReader"]).status_code == 404
    sp_save = admin.post(
        "/v1/securityprofiles/assignments", roles=["SecurityProfileAdmin"], json={}
    )
    assert sp_save.status_code == 403
    assert (
        admin.post(
            "/v1/securityprofiles/assignments", roles=["SetSecurityProfile"], json={}
        ).status_code
        == 400
    )
    sender_save = admin.post(
        "/v1/messagesenders/assignments", roles=["MessageSenderAdmin"], json={}
    )
    assert sender_save.status_code == 403
    assert (
        admin.post(
            "/v1/messagesenders/assignments", roles=["MessageConfigAssignmentAdmin"], json={}
        ).status_code
        == 400
    )


def _seed(committed_db: Engine) -> tuple[str, str]:
    with Session(committed_db) as session, session.begin():
        buyer = make_buyer(session, id="shop")
        make_user(session, buyer=buyer, id="u-buyer", username="Shopper.Sue", phone="+1 555")
        make_user(session, id="u-admin", username="root", xp={"team": "ops"})
        client = make_client(session, default_context_username="shopper.sue")
        return buyer.id, client.id


def test_me_answers_for_a_buyer_user_with_the_buyer(
    admin: AdminClient, committed_db: Engine
) -> None:
    buyer_id, _ = _seed(committed_db)
    token = admin.token(["Shopper", "MeAdmin"], username="shopper.sue", user_type="buyer")
    response = admin.request("GET", "/v1/me", token=token)
    assert response.status_code == 200
    assert response.json["ID"] == "u-buyer"
    assert response.json["Username"] == "Shopper.Sue"
    assert response.json["Phone"] == "+1 555"
    assert response.json["Buyer"] == {"ID": buyer_id, "DefaultCatalogID": None}
    assert response.json["AvailableRoles"] == ["Shopper", "MeAdmin"]
    assert "PasswordHash" not in response.data.decode()


def test_me_answers_for_an_admin_user_without_a_buyer(
    admin: AdminClient, committed_db: Engine
) -> None:
    _seed(committed_db)
    response = admin.request("GET", "/v1/me", token=admin.token([], username="root"))
    assert response.status_code == 200
    assert response.json["ID"] == "u-admin"
    assert response.json["Buyer"] is None
    assert response.json["xp"] == {"team": "ops"}


def test_me_with_a_client_credentials_token_is_the_default_context_user(
    admin: AdminClient, committed_db: Engine
) -> None:
    _, client_id = _seed(committed_db)
    token = admin.token(["Shopper"], username="shopper.sue", user_type="buyer", client_id=client_id)
    assert admin.request("GET", "/v1/me", token=token).json["ID"] == "u-buyer"


def test_me_needs_a_valid_token_and_an_existing_user(
    admin: AdminClient, committed_db: Engine
) -> None:
    _seed(committed_db)
    assert admin.request("GET", "/v1/me").status_code == 401
    ghost = admin.request("GET", "/v1/me", token=admin.token(["Shopper"], username="ghost"))
    assert ghost.status_code == 401  # a token whose user is gone speaks for nobody
    assert error_of(ghost)["ErrorCode"] == "InvalidToken"
