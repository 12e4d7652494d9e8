"""OrderCloud's list filters, searchOn and sortBy on the admin lists, against PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import migrations
from core.admin.collections import ListQuery
from core.admin.identity import UserStore
from core.models import BUYER
from core.platform.clock import SystemClock
from core.platform.db import make_engine
from tests.factories import hasher, make_buyer, make_user
from tests.integration.admin.conftest import AdminClient, error_of

USERS = [
    # ID, Username, FirstName, Active, xp
    ("ann", "ann.lee", "Ann", True, {"Tier": "gold", "Score": 10, "Address": {"City": "Oslo"}}),
    ("bob", "bob.stone", "Bob", False, {"Tier": "silver", "Score": 25}),
    ("cat", "cat.annex", "Cat", True, {"Tier": "gold", "Score": 40, "Vip": True}),
    ("dan", "dan_100%", "Dan", True, {"Tier": "bronze", "Score": "n/a"}),
]


@pytest.fixture
def users(admin: AdminClient) -> str:
    assert admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme"}).status_code == 201
    for user_id, username, first, active, xp in USERS:
        body = {
            "ID": user_id,
            "Username": username,
            "FirstName": first,
            "LastName": "Tester",
            "Email": f"{user_id}@acme.test",
            "Active": active,
            "xp": xp,
        }
        response = admin.post("/v1/buyers/acme/users", json=body)
        assert response.status_code == 201, response.json
    return "/v1/buyers/acme/users"


def _ids(admin: AdminClient, url: str) -> list[str]:
    response = admin.get(url)
    assert response.status_code == 200, response.json
    return [item["ID"] for item in response.json["Items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Active=false", ["bob"]),
        ("Active=true", ["ann", "cat", "dan"]),
        ("FirstName=ann", ["ann"]),  # case-insensitive, whole value
        ("Username=*ann*", ["ann", "cat"]),  # wildcard: contains
        ("Username=ann*", ["ann"]),  # starts with
        ("Username=*stone", ["bob"]),  # ends with
        ("Username=!ann*", ["bob", "cat", "dan"]),  # not
        ("FirstName=Ann|Bob", ["ann", "bob"]),  # or
        ("ID=>bob", ["cat", "dan"]),
        ("ID=<=bob", ["ann", "bob"]),
        ("Username=dan_100%25", ["dan"]),  # SQL's wildcards are literal
        ("Username=dan%25", []),
        ("xp.Tier=gold", ["ann", "cat"]),
        ("xp.Tier=GOLD", []),  # xp values match exactly, as stored
        ("xp.Tier=!gold", ["bob", "dan"]),
        ("xp.Tier=gold|bronze", ["ann", "cat", "dan"]),
        ("xp.Tier=*ol*", ["ann", "cat"]),
        ("xp.Score=25", ["bob"]),  # a number in xp
        ("xp.Score=>20", ["bob", "cat"]),  # compared as numbers; text in xp never matches
        ("xp.Score=<=10", ["ann"]),
        ("xp.Vip=true", ["cat"]),
        ("xp.Address.City=Oslo", ["ann"]),
        ("xp.Missing=x", []),
        ("xp.Missing=!x", ["ann", "bob", "cat", "dan"]),
        ("Active=true&xp.Tier=gold", ["ann", "cat"]),  # several filters: all hold
        ("xp.Score=>5&xp.Score=<30", ["ann", "bob"]),  # a repeated filter: all hold
        ("Active=true&search=an&searchOn=Username", ["ann", "cat", "dan"]),
    ],
)
def test_filters_select_users_with_ordercloud_operators(
    admin: AdminClient, users: str, query: str, expected: list[str]
) -> None:
    assert _ids(admin, f"{users}?{query}") == expected


def test_search_on_narrows_the_searched_fields(admin: AdminClient, users: str) -> None:
    # "acme" is in every email; only the Email field finds it when searchOn names it.
    assert _ids(admin, f"{users}?search=acme") == ["ann", "bob", "cat", "dan"]
    assert _ids(admin, f"{users}?search=acme&searchOn=Username,FirstName") == []
    assert _ids(admin, f"{users}?search=ANN&searchOn=FirstName") == ["ann"]
    assert _ids(admin, f"{users}?search=ann&searchOn=Username") == ["ann", "cat"]


def test_sort_by_ordercloud_field_names(
    admin: AdminClient, users: str, committed_db: Engine
) -> None:
    with committed_db.begin() as connection:
        connection.execute(
            text(
                "UPDATE users SET created_at = now() - make_interval(days => ascii(id))"
                ", last_login_at = CASE id WHEN 'bob' THEN now() WHEN 'ann' THEN now() - "
                "interval '1 day' END"
            )
        )
    # created_at falls as the ID's first letter rises: 'dan' is the oldest.
    assert _ids(admin, f"{users}?sortBy=DateCreated") == ["dan", "cat", "bob", "ann"]
    assert _ids(admin, f"{users}?sortBy=!DateCreated") == ["ann", "bob", "cat", "dan"]
    # Never active (null) sorts last ascending, first descending, as PostgreSQL orders nulls.
    assert _ids(admin, f"{users}?sortBy=LastActive") == ["ann", "bob", "cat", "dan"]
    assert _ids(admin, f"{users}?sortBy=!LastActive") == ["dan", "cat", "bob", "ann"]
    assert _ids(admin, f"{users}?sortBy=FirstName&pageSize=2&page=2") == ["cat", "dan"]
    assert _ids(admin, f"{users}?sortBy=Active,!ID") == ["bob", "dan", "cat", "ann"]


def test_deep_pages_and_counts_follow_the_filters(admin: AdminClient, users: str) -> None:
    page = admin.get(f"{users}?Active=true&pageSize=2&page=2&sortBy=!Username")
    assert page.json["Meta"]["TotalCount"] == 3
    assert page.json["Meta"]["ItemRange"] == [3, 3]
    assert [item["ID"] for item in page.json["Items"]] == ["ann"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("Password=x", "Password"),  # write-only: never a filter
        ("Nope=1", "Nope"),
        ("Active=maybe", "Active"),
        ("FailedLoginAttempts=>x", "FailedLoginAttempts"),
        ("FailedLoginAttempts=99999999999999999999", "FailedLoginAttempts"),
        ("DateCreated=>yesterday", "DateCreated"),
        ("xp.=1", "xp."),
        ("searchOn=Password&search=x", "searchOn"),
        ("sortBy=PasswordHash", "sortBy"),
        ("Name=" + "x" * 256, "Name"),
    ],
)
def test_bad_filters_are_a_400_naming_the_filter(
    admin: AdminClient, users: str, query: str, field: str
) -> None:
    response = admin.get(f"{users}?{query}")
    assert response.status_code == 400, response.json
    error = error_of(response)
    assert error["ErrorCode"] == "InvalidRequest"
    assert error["Data"]["Field"] == field


def test_every_collection_filters_on_its_own_properties(admin: AdminClient) -> None:
    for n, active in enumerate([True, False, True]):
        body: dict[str, Any] = {"ID": f"b{n}", "Name": f"Buyer {n}", "Active": active}
        body["xp"] = {"Region": "EU" if n else "US"}
        assert admin.post("/v1/buyers", json=body).status_code == 201
    assert _ids(admin, "/v1/buyers?Active=false") == ["b1"]
    assert _ids(admin, "/v1/buyers?xp.Region=EU") == ["b1", "b2"]
    assert _ids(admin, "/v1/buyers?Name=Buyer%202") == ["b2"]
    profile = {"ID": "p1", "Name": "Shoppers", "Roles": ["Shopper"]}
    assert admin.post("/v1/securityprofiles", json=profile).status_code == 201
    assert _ids(admin, "/v1/securityprofiles?Name=shop*") == ["p1"]
    assert _ids(admin, "/v1/securityprofiles?Name=!shop*") == []


def test_dev_mode_sqlite_runs_the_same_filters(tmp_path: Path) -> None:
    """``otp dev`` keeps its data in SQLite: the same filters, searches and sorts work there
    (xp through SQLite's JSON functions, without the PostgreSQL indexes)."""
    url = f"sqlite:///{tmp_path / 'dev.db'}"
    migrations.upgrade(url)
    engine = make_engine(url)
    store = UserStore(BUYER, hasher(), SystemClock())
    try:
        with Session(engine) as session:
            buyer = make_buyer(session)
            for user_id, username, first, active, xp in USERS:
                make_user(
                    session,
                    buyer=buyer,
                    id=user_id,
                    username=username,
                    first_name=first,
                    active=active,
                    xp=xp,
                )
            session.commit()

            def ids(**options: Any) -> list[str]:
                query = ListQuery(**options)
                page = store.list(session, query, {"buyer_id": buyer.id})
                return [row.id for row in page.items]

            assert ids(field_filters=(("Active", "false"),)) == ["bob"]
            assert ids(field_filters=(("Username", "*ann*"),)) == ["ann", "cat"]
            assert ids(field_filters=(("xp.Tier", "gold|bronze"),)) == ["ann", "cat", "dan"]
            assert ids(field_filters=(("xp.Score", ">20"),)) == ["bob", "cat"]
            assert ids(field_filters=(("xp.Address.City", "!Oslo"),)) == ["bob", "cat", "dan"]
            assert ids(search="ANN", search_on=("FirstName",)) == ["ann"]
            assert ids(sort_by=("!Username",), page_size=2) == ["dan", "cat"]
    finally:
        engine.dispose()


def test_pages_past_the_middle_are_the_same_pages(admin: AdminClient) -> None:
    """Pages past the middle are read from the other end and turned around: every page of
    every order is what one sorted list cut into pages gives."""
    assert admin.post("/v1/buyers", json={"ID": "acme", "Name": "Acme"}).status_code == 201
    for n in range(11):
        body = {
            "ID": f"u{n:02d}",
            "Username": f"user{(n * 7) % 11:02d}",
            "FirstName": "Same" if n % 3 else "Other",  # ties, broken by ID
            "LastName": "L",
            "Email": f"u{n}@acme.test",
        }
        assert admin.post("/v1/buyers/acme/users", json=body).status_code == 201
    for sort in ("", "Username", "!Username", "FirstName", "!FirstName,Username"):
        everything = _ids(admin, f"/v1/buyers/acme/users?pageSize=100&sortBy={sort}")
        assert len(everything) == 11
        for size in (2, 3, 4):
            pages = [
                _ids(admin, f"/v1/buyers/acme/users?pageSize={size}&page={page}&sortBy={sort}")
                for page in range(1, 8)  # the last ones past the end: empty
            ]
            assert [item for page in pages for item in page] == everything, (sort, size)
