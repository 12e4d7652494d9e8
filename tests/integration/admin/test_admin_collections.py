"""Every admin collection through the one generic mechanism: CRUD, paging, search, sort,
404/409/400 and write-only fields, against the real database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.models import SecurityProfile
from tests.integration.admin.conftest import AdminClient, error_of


def _buyer(admin: AdminClient) -> str:
    response = admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme"})
    assert response.status_code == 201, response.json
    return "/v1/buyers/acme/users"


def _delivery_config(admin: AdminClient) -> str:
    response = admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "ID": "hooks",
            "Name": "Hooks",
            "DeliveryTargets": {"Http": {"Endpoint": "https://hooks.test/x", "Secret": "s3"}},
        },
    )
    assert response.status_code == 201, response.json
    return "/v1/messagesenders"


@dataclass(frozen=True)
class Case:
    """One collection: how to create, change and find its objects."""

    name: str
    path: str | Callable[[AdminClient], str]  # a callable also creates what the path needs
    body: Callable[[int], dict[str, Any]]  # the n-th object's full body
    patch: dict[str, Any]
    search_field: str  # a text field whose values differ between objects
    required: str  # a field whose absence is a 400
    write_only: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # values that must never appear in a response
    extra: dict[str, Any] = field(default_factory=dict)

    def collection(self, admin: AdminClient) -> str:
        return self.path(admin) if callable(self.path) else self.path


CASES = [
    Case(
        "api clients",
        "/v1/apiclients",
        lambda n: {
            "AppName": f"Storefront {n}",
            "ClientSecret": f"client-secret-{n}",
            "AccessTokenDuration": 60,
            "AllowAnyBuyer": True,
            "xp": {"n": n},
        },
        {"AllowSeller": True},
        "AppName",
        "AppName",
        write_only=("ClientSecret",),
        secrets=("client-secret-",),
    ),
    Case(
        "buyers",
        "/v1/buyers",
        lambda n: {"Name": f"Buyer {n}", "Active": True, "xp": {"region": "eu"}},
        {"Active": False},
        "Name",
        "Name",
    ),
    Case(
        "buyer users",
        _buyer,
        lambda n: {
            "Username": f"shopper{n}",
            "FirstName": "Sam",
            "LastName": f"Shopper{n}",
            "Email": f"sam{n}@example.com",
            "Password": f"password-{n}-x",
        },
        {"Phone": "+1 555 0100"},
        "Username",
        "Username",
        write_only=("Password",),
        secrets=("password-",),
    ),
    Case(
        "admin users",
        "/v1/adminusers",
        lambda n: {
            "Username": f"admin{n}",
            "FirstName": "Ada",
            "LastName": f"Admin{n}",
            "Email": f"ada{n}@example.com",
            "Password": f"password-{n}-y",
        },
        {"Active": False},
        "Username",
        "Email",
        write_only=("Password",),
        secrets=("password-",),
    ),
    Case(
        "security profiles",
        "/v1/securityprofiles",
        lambda n: {
            "Name": f"Profile {n}",
            "Roles": ["Shopper", "MeAdmin"],
            "CustomRoles": ["CanDance"],
            "PasswordConfig": {"AllowedFailedAttempts": 3, "LockoutDuration": 5},
        },
        {"Roles": ["FullAccess"]},
        "Name",
        "Name",
    ),
    Case(
        "message senders",
        "/v1/messagesenders",
        lambda n: {
            "Name": f"Sender {n}",
            "MessageTypes": ["OneTimePassword", "ForgottenPassword"],
            "URL": f"https://hooks.test/{n}/{{messagetype}}",
            "SharedKey": f"shared-key-{n}-z",
            "xp": {"brand": "acme"},
            "TemplateOverrides": {"subject.txt": "Your code {{ code }}"},
        },
        {"Description": "the webhook"},
        "Name",
        "Name",
        write_only=("SharedKey",),
        secrets=("shared-key-",),
    ),
    Case(
        "message senders with a delivery config",
        _delivery_config,
        lambda n: {"Name": f"Sender {n}", "DeliveryConfigID": "hooks"},
        {"MessageTypes": ["OneTimePassword"]},
        "Name",
        "Name",
    ),
    Case(
        "delivery configs",
        "/v1/integrations/deliveryconfig",
        lambda n: {
            "Name": f"Config {n}",
            "DeliveryTargets": {
                "MessageSender": {
                    "Endpoint": f"https://hooks.test/{n}",
                    "Secret": f"dc-secret-{n}",
                },
                "Smtp": {
                    "Host": "smtp.test",
                    "Port": 2525,
                    "Username": "mailer",
                    "Password": f"smtp-password-{n}",
                    "From": "otp@example.com",
                    "Security": "none",
                },
            },
        },
        {"Enabled": False},
        "Name",
        "DeliveryTargets",
        secrets=("dc-secret-", "smtp-password-"),
    ),
]


def _assert_no_secrets(case: Case, raw: bytes) -> None:
    text = raw.decode()
    for name in case.write_only:
        assert f'"{name}"' not in text
    for secret in case.secrets:
        assert secret not in text


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_full_access_creates_reads_patches_replaces_lists_and_deletes(
    admin: AdminClient, case: Case
) -> None:
    path = case.collection(admin)
    # What exists already: the calling admin user and its API client are real rows.
    before = {item["ID"] for item in admin.get(path).json["Items"]}
    created = admin.post(path, json={"ID": "obj-1", **case.body(1)})
    assert created.status_code == 201, created.json
    assert created.json["ID"] == "obj-1"
    _assert_no_secrets(case, created.data)

    generated = admin.post(path, json=case.body(2))
    assert generated.status_code == 201, generated.json
    assert generated.json["ID"] and generated.json["ID"] != "obj-1"

    fetched = admin.get(f"{path}/obj-1")
    assert fetched.status_code == 200
    assert fetched.json == created.json
    _assert_no_secrets(case, fetched.data)

    patched = admin.patch(f"{path}/obj-1", json=case.patch)
    assert patched.status_code == 200, patched.json
    for key, value in case.patch.items():
        assert patched.json[key] == value
    untouched = {key: value for key, value in created.json.items() if key not in case.patch}
    assert {key: patched.json[key] for key in untouched} == untouched
    _assert_no_secrets(case, patched.data)

    replaced = admin.put(f"{path}/obj-1", json={**case.body(3)})
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["ID"] == "obj-1"
    assert replaced.json[case.search_field] == case.body(3)[case.search_field]
    for key in case.patch:  # a full replace resets what the body leaves out
        if key not in case.body(3):
            assert replaced.json[key] != case.patch[key]
    _assert_no_secrets(case, replaced.data)

    listed = admin.get(path)
    assert listed.status_code == 200
    assert listed.json["Meta"]["TotalCount"] == len(before) + 2
    listed_ids = {item["ID"] for item in listed.json["Items"]}
    assert listed_ids - before == {"obj-1", generated.json["ID"]}
    _assert_no_secrets(case, listed.data)

    deleted = admin.delete(f"{path}/obj-1")
    assert deleted.status_code == 204
    assert admin.get(f"{path}/obj-1").status_code == 404
    assert admin.get(path).json["Meta"]["TotalCount"] == len(before) + 1


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_duplicate_missing_and_invalid_objects_get_the_contract_errors(
    admin: AdminClient, case: Case
) -> None:
    path = case.collection(admin)
    assert admin.post(path, json={"ID": "dup", **case.body(1)}).status_code == 201

    duplicate = admin.post(path, json={"ID": "dup", **case.body(2)})
    assert duplicate.status_code == 409
    assert error_of(duplicate)["ErrorCode"] == "IdExists"

    for method in ("get", "patch", "delete"):
        missing = admin.request(
            method.upper(), f"{path}/nope", roles=["FullAccess"], json=case.body(4)
        )
        assert missing.status_code == 404, (method, missing.json)
        assert error_of(missing)["ErrorCode"] == "NotFound"
        assert error_of(missing)["Data"]["ObjectID"] == "nope"

    incomplete = {key: value for key, value in case.body(5).items() if key != case.required}
    invalid = admin.post(path, json=incomplete)
    assert invalid.status_code == 400
    assert error_of(invalid)["ErrorCode"] == "InvalidRequest"
    assert error_of(invalid)["Data"]["Field"] == case.required

    renamed = admin.patch(f"{path}/dup", json={"ID": "other"})
    assert renamed.status_code == 400
    assert error_of(renamed)["Data"]["Field"] == "ID"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_put_creates_under_the_paths_id_then_replaces(admin: AdminClient, case: Case) -> None:
    path = case.collection(admin)
    # What exists already: the calling admin user and its API client are real rows.
    before = admin.get(path).json["Meta"]["TotalCount"]

    created = admin.put(f"{path}/saved-1", json=case.body(1))
    assert created.status_code == 201, created.json
    assert created.json["ID"] == "saved-1"
    assert admin.get(f"{path}/saved-1").json == created.json
    _assert_no_secrets(case, created.data)

    replaced = admin.put(f"{path}/saved-1", json={"ID": "saved-1", **case.body(2)})
    assert replaced.status_code == 200, replaced.json
    assert replaced.json[case.search_field] == case.body(2)[case.search_field]
    assert admin.get(path).json["Meta"]["TotalCount"] == before + 1

    other_id = admin.put(f"{path}/saved-2", json={"ID": "elsewhere", **case.body(3)})
    assert other_id.status_code == 400
    assert error_of(other_id)["Data"]["Field"] == "ID"
    bad_id = admin.put(f"{path}/bad%20id", json=case.body(3))
    assert bad_id.status_code == 400
    assert error_of(bad_id)["Data"]["Field"] == "ID"


def test_put_under_a_missing_buyer_is_a_404_and_an_id_taken_elsewhere_a_409(
    admin: AdminClient,
) -> None:
    user = {"Username": "sam", "FirstName": "S", "LastName": "Am", "Email": "s@x.io"}
    missing = admin.put("/v1/buyers/nobody/users/u1", json=user)
    assert missing.status_code == 404
    assert error_of(missing)["Data"] == {"ObjectType": "Buyer", "ObjectID": "nobody"}

    assert admin.post("/v1/adminusers", json={"ID": "u1", **user}).status_code == 201
    admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme"})
    taken = admin.put("/v1/buyers/acme/users/u1", json={**user, "Username": "other"})
    assert taken.status_code == 409
    assert error_of(taken)["ErrorCode"] == "IdExists"


def test_patch_merges_xp_key_by_key_and_null_removes_a_key(admin: AdminClient) -> None:
    xp = {"Region": "EU", "Tier": "gold", "Address": {"City": "Lyon", "Zip": "69001"}}
    admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme", "xp": xp})

    patched = admin.patch(
        "/v1/buyers/acme",
        json={"xp": {"Region": "US", "Tier": None, "Address": {"Zip": "69002"}, "New": [1]}},
    )

    assert patched.status_code == 200, patched.json
    expected = {"Region": "US", "Address": {"City": "Lyon", "Zip": "69002"}, "New": [1]}
    assert patched.json["xp"] == expected
    assert admin.get("/v1/buyers/acme").json["xp"] == expected
    replaced = admin.put("/v1/buyers/acme", json={"Name": "Acme", "xp": {"Only": True}})
    assert replaced.json["xp"] == {"Only": True}  # PUT replaces the whole xp


def test_lists_page_search_and_sort(admin: AdminClient) -> None:
    for n, name in enumerate(["Delta", "alpha", "Charlie", "bravo", "Echo"]):
        admin.post("/v1/buyers", json={"ID": f"b{n}", "Name": name})

    first = admin.get("/v1/buyers?pageSize=2&sortBy=Name")
    assert first.json["Meta"] == {
        "Page": 1,
        "PageSize": 2,
        "TotalCount": 5,
        "TotalPages": 3,
        "ItemRange": [1, 2],
        "NextPageKey": None,
    }
    last = admin.get("/v1/buyers?pageSize=2&page=3&sortBy=Name")
    assert last.json["Meta"]["ItemRange"] == [5, 5]
    assert len(last.json["Items"]) == 1

    descending = admin.get("/v1/buyers?sortBy=!ID")
    assert [item["ID"] for item in descending.json["Items"]] == ["b4", "b3", "b2", "b1", "b0"]

    found = admin.get("/v1/buyers?search=HARL")
    assert [item["Name"] for item in found.json["Items"]] == ["Charlie"]
    wildcard = admin.get("/v1/buyers?search=%25")  # a literal '%' matches nothing here
    assert wildcard.json["Meta"]["TotalCount"] == 0


@pytest.mark.parametrize(
    "query",
    ["pageSize=101", "pageSize=0", "page=0", "page=x", "sortBy=Password", "search=" + "s" * 256],
)
def test_bad_list_parameters_are_a_400_naming_the_parameter(admin: AdminClient, query: str) -> None:
    response = admin.get(f"/v1/adminusers?{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["ErrorCode"] == "InvalidRequest"
    assert error["Data"]["Field"] == query.split("=", maxsplit=1)[0]


def test_buyer_users_are_kept_to_their_buyer(admin: AdminClient) -> None:
    for buyer in ("one", "two"):
        admin.post("/v1/buyers", json={"ID": buyer, "Name": buyer})
    user = {"ID": "u1", "Username": "u1", "FirstName": "U", "LastName": "One", "Email": "u@x.io"}
    assert admin.post("/v1/buyers/one/users", json=user).status_code == 201

    assert admin.get("/v1/buyers/two/users/u1").status_code == 404
    assert admin.get("/v1/buyers/two/users").json["Meta"]["TotalCount"] == 0
    assert admin.get("/v1/adminusers/u1").status_code == 404
    unknown_buyer = admin.get("/v1/buyers/nobody/users")
    assert unknown_buyer.status_code == 404
    assert error_of(unknown_buyer)["Data"] == {"ObjectType": "Buyer", "ObjectID": "nobody"}


def test_a_security_profile_stores_only_the_password_settings_given(
    admin: AdminClient, committed_db: Engine
) -> None:
    body = {"ID": "sp", "Name": "SP", "PasswordConfig": {"AllowedFailedAttempts": 3}}
    created = admin.post("/v1/securityprofiles", json=body)
    assert created.json["PasswordConfig"]["AllowedFailedAttempts"] == 3
    assert {key for key, value in created.json["PasswordConfig"].items() if value is not None} == {
        "AllowedFailedAttempts"
    }
    with Session(committed_db) as session:
        profile = session.get(SecurityProfile, "sp")
        assert profile is not None
        assert profile.password_config == {"AllowedFailedAttempts": 3}
