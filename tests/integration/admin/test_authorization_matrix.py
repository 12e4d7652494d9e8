"""Every admin route x every kind of caller, generated from the app's route table.

The expectations are written here from the rules as stated (docs/authorization.md), not
read from the table the service enforces, so a wrong row in either shows up. A route
added to the app joins the matrix by itself; the completeness tests fail if it has no
authorization rule, if the matrix cannot classify it, or if /openapi.json documents an
admin operation the route table does not serve.

Outcomes: ALLOWED (past authorization: anything but 401, 403 or the hidden-buyer 404),
FORBIDDEN (403 InsufficientRoles), HIDDEN (404 naming buyer A, as for a missing buyer).
Writes send a body that fails validation and deletes name missing objects, so nothing
the matrix depends on changes while it runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from api import create_app
from api.auth import AUTHORIZATION_ATTRIBUTE
from api.token import create_token_app
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.authz_world import BUYER_A, PERSONAS, VICTIM, VICTIM_ADMIN, World, build_world, sign_in

NOT_ADMIN_ROUTES = {"/v1/me", "/v1/password/onetimepassword"}
ALLOWED, FORBIDDEN, HIDDEN = "allowed", "forbidden", "hidden"
BUYER_USERS = "/v1/buyers/<buyerID>/users"
BUYER_ITEM = "/v1/buyers/<id>"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # Flask's form: /v1/buyers/<buyerID>/users/<id>
    endpoint: str

    @property
    def buyer_scoped(self) -> bool:
        """What a buyer user may reach (in its own buyer): its buyer's users, and reading
        or updating its buyer. Everything else is seller-only."""
        if self.rule.startswith(BUYER_USERS):
            return True
        return self.rule == BUYER_ITEM and self.method in {"GET", "PUT", "PATCH"}

    @property
    def reads(self) -> bool:
        return self.method == "GET"

    def path(self) -> str:
        """The rule with real or deliberately missing objects filled in."""
        deleting = self.method == "DELETE" and not self.rule.endswith("/tokens")
        if self.rule.startswith(BUYER_USERS + "/<id>"):
            user = "no-such-user" if deleting else VICTIM
            path = self.rule.replace("<id>", user)
        elif self.rule.startswith("/v1/adminusers/<id>"):
            path = self.rule.replace("<id>", "no-such-user" if deleting else VICTIM_ADMIN)
        elif self.rule == BUYER_ITEM:
            path = self.rule.replace("<id>", "no-such-buyer" if deleting else BUYER_A)
        else:
            path = self.rule.replace("<id>", "no-such-object")
        path = path.replace("<buyerID>", BUYER_A)
        return re.sub(r"<(?:\w+:)?\w+>", "no-such-object", path)  # any other parameter


def admin_routes(app: Flask) -> list[Route]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/") or rule.rule in NOT_ADMIN_ROUTES:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(Route(method, rule.rule, rule.endpoint))
    return routes


def expected(persona: str, route: Route) -> str:
    """The rules as docs/authorization.md states them, for the world's callers."""
    if persona in {"seller_admin", "client_credentials"}:
        return ALLOWED  # FullAccess admin (seller) user, directly or as context user
    if persona == "seller_narrow":  # BuyerUserReader only
        return ALLOWED if route.rule.startswith(BUYER_USERS) and route.reads else FORBIDDEN
    if persona == "shopper":
        return FORBIDDEN
    if not route.buyer_scoped:
        return FORBIDDEN  # seller-only: no buyer user, whatever its roles
    if persona == "buyer_admin_other":
        return HIDDEN  # buyer A's objects do not exist for a user of buyer B
    assert persona in {"buyer_full_access", "buyer_admin_same"}, persona
    return ALLOWED


def outcome(status: int, body: Any) -> str:
    if status == 403:
        assert body["Errors"][0]["ErrorCode"] == "InsufficientRoles", body
        return FORBIDDEN
    hidden_data = {"ObjectType": "Buyer", "ObjectID": BUYER_A}
    if status == 404 and body["Errors"][0].get("Data") == hidden_data:
        return HIDDEN
    assert status != 401, body
    return ALLOWED


@pytest.fixture
def matrix_apps(settings: Settings, committed_db: Engine) -> Iterator[tuple[Flask, FlaskClient]]:
    runtime = Runtime(settings)
    api, token = create_app(runtime=runtime), create_token_app(runtime=runtime)
    yield api, token.test_client()
    runtime.close()


def tokens_of(token_client: FlaskClient, world: World) -> dict[str, str]:
    def post(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        response = token_client.post("/oauth/token", data=form)
        return response.status_code, response.get_json()

    return {persona: sign_in(post, world, persona)["access_token"] for persona in PERSONAS}


def test_every_admin_route_has_an_authorization_rule(matrix_apps: tuple[Flask, Any]) -> None:
    app, _ = matrix_apps
    routes = admin_routes(app)
    assert len(routes) > 40
    unguarded = [
        (route.method, route.rule)
        for route in routes
        if getattr(app.view_functions[route.endpoint], AUTHORIZATION_ATTRIBUTE, None) is None
    ]
    assert unguarded == []


def test_the_matrix_covers_every_documented_admin_operation(
    matrix_apps: tuple[Flask, Any],
) -> None:
    app, _ = matrix_apps
    served = {
        (route.method, re.sub(r"<(\w+)>", r"{\1}", route.rule)) for route in admin_routes(app)
    }
    document = app.test_client().get("/openapi.json").get_json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if path.startswith("/v1/") and re.sub(r"{(\w+)}", r"<\1>", path) not in NOT_ADMIN_ROUTES
        for method in operations
    }
    assert documented - served == set()
    assert served - documented == set()  # and nothing served goes undocumented


def test_every_admin_route_answers_every_kind_of_caller_as_the_rules_say(
    matrix_apps: tuple[Flask, FlaskClient], committed_db: Engine
) -> None:
    app, token_client = matrix_apps
    world = build_world(committed_db)
    tokens = tokens_of(token_client, world)
    client = app.test_client()
    routes = admin_routes(app)
    seen: list[tuple[str, str, str]] = []
    wrong: list[tuple[str, str, str, str, int]] = []
    for route in routes:
        for persona in PERSONAS:
            response = client.open(
                route.path(),
                method=route.method,
                headers={"Authorization": f"Bearer {tokens[persona]}"},
                json=None if route.reads else [],  # a write's body fails validation
            )
            got = outcome(response.status_code, response.get_json())
            want = expected(persona, route)
            seen.append((route.method, route.rule, persona))
            if got != want:
                wrong.append((route.method, route.rule, persona, got, response.status_code))
    assert wrong == []
    assert len(seen) == len(routes) * len(PERSONAS) == len(set(seen))
    # The three outcomes all occur: the matrix is not vacuous.
    outcomes = {expected(persona, route) for route in routes for persona in PERSONAS}
    assert outcomes == {ALLOWED, FORBIDDEN, HIDDEN}
