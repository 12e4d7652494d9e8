"""Every row of the token error table, and malformed input, answer the contract's body.

The table is in docs/http-api.md.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.factories import make_client
from tests.integration.token.conftest import make_shop, password_form, post_token

TOKEN_URL = "/oauth/token"
FORM = "application/x-www-form-urlencoded"


def assert_refused(response: TestResponse, error: str, error_code: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.json
    assert body is not None
    assert set(body) == {"error", "error_description", "Errors"}
    assert body["error"] == error
    assert body["error_description"]
    assert body["Errors"] == [{"ErrorCode": error_code, "Message": body["error_description"]}]


def test_an_unknown_username_is_invalid_grant(data: Session, token_client: FlaskClient) -> None:
    shop = make_shop(data)
    response = post_token(token_client, password_form(shop) | {"username": "ghost"})
    assert_refused(response, "invalid_grant", "Auth.InvalidUsernameOrPassword")


def test_a_locked_account_is_invalid_grant(data: Session, token_client: FlaskClient) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 1})
    post_token(token_client, password_form(shop, "wrong"))
    assert_refused(post_token(token_client, password_form(shop)), "invalid_grant", "Auth.LockedOut")


def test_an_inactive_user_is_invalid_grant(data: Session, token_client: FlaskClient) -> None:
    shop = make_shop(data, user_fields={"active": False})
    response = post_token(token_client, password_form(shop))
    assert_refused(response, "invalid_grant", "Auth.UserNotActive")


@pytest.mark.parametrize("client_id", ["no-such-client", None])
def test_an_unknown_or_missing_client_id_is_invalid_client(
    data: Session, token_client: FlaskClient, client_id: str | None
) -> None:
    form = password_form(make_shop(data))
    del form["client_id"]
    if client_id is not None:
        form["client_id"] = client_id
    assert_refused(post_token(token_client, form), "invalid_client", "ApiClient.InvalidClientID")


def test_an_inactive_client_is_invalid_client(data: Session, token_client: FlaskClient) -> None:
    shop = make_shop(data, active=False)
    response = post_token(token_client, password_form(shop))
    assert_refused(response, "invalid_client", "Auth.ClientNotActive")


def test_a_user_not_allowed_on_the_client_is_invalid_grant(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    seller_only = make_client(data, allow_seller=True)
    data.commit()
    response = post_token(token_client, password_form(shop, client_id=seller_only.id))
    assert_refused(response, "invalid_grant", "Auth.InsufficientRoles")


@pytest.mark.parametrize("missing", ["username", "password"])
def test_a_missing_username_or_password_is_invalid_request(
    data: Session, token_client: FlaskClient, missing: str
) -> None:
    form = password_form(make_shop(data))
    form[missing] = ""
    response = post_token(token_client, form)
    assert_refused(response, "invalid_request", "Auth.UsernameAndPasswordRequired")


@pytest.mark.parametrize("grant_type", ["authorization_code", "PASSWORD", "implicit"])
def test_an_unsupported_grant_type_is_unsupported_grant_type(
    token_client: FlaskClient, grant_type: str
) -> None:
    response = post_token(token_client, {"grant_type": grant_type, "client_id": "c"})
    assert_refused(response, "unsupported_grant_type", "InvalidRequest")


def test_a_refresh_grant_without_a_refresh_token_is_invalid_request(
    token_client: FlaskClient,
) -> None:
    response = post_token(token_client, {"grant_type": "refresh_token", "client_id": "c"})
    assert_refused(response, "invalid_request", "InvalidRequest")


MALFORMED = {
    "json body": ('{"grant_type": "password"}', "application/json"),
    "no content type": ("grant_type=password", None),
    "multipart": ("--x\r\n\r\n", "multipart/form-data; boundary=x"),
    "no grant type": ("username=a&password=b", FORM),
    "empty body": ("", FORM),
    "bad percent utf-8": ("grant_type=password&username=%ff%fe&password=x", FORM),
    "raw non utf-8": (b"grant_type=password&username=\xff&password=x", FORM),
    "username over 255": (f"grant_type=password&username={'u' * 256}&password=x", FORM),
    "password over 4096": (f"grant_type=password&username=u&password={'p' * 4097}", FORM),
    "duplicate field": ("grant_type=password&username=a&username=b&password=x", FORM),
    "duplicate grant type": ("grant_type=password&grant_type=client_credentials", FORM),
    "nul byte": ("grant_type=password&username=a%00b&password=x", FORM),
    "too many fields": ("&".join(f"f{n}=1" for n in range(40)), FORM),
    "body over 16 KiB": ("grant_type=password&x=" + "a" * 20000, FORM),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_are_invalid_request_never_a_500(
    token_client: FlaskClient, case: tuple[str | bytes, str | None]
) -> None:
    body, content_type = case
    headers = {"Content-Type": content_type} if content_type else {}
    response = token_client.post(TOKEN_URL, data=body, headers=headers)
    assert_refused(response, "invalid_request", "InvalidRequest")


def test_unknown_fields_are_ignored(data: Session, token_client: FlaskClient) -> None:
    shop = make_shop(data)
    response = post_token(token_client, password_form(shop) | {"nonce": "x", "audience": "y"})
    assert response.status_code == 200


def test_oversized_usernames_that_pass_validation_limits_do_not_reach_the_database_as_errors(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    longest = password_form(shop) | {"username": "ü" * 255, "scope": "S " * 2000}
    assert_refused(
        post_token(token_client, longest), "invalid_grant", "Auth.InvalidUsernameOrPassword"
    )


_FIELD_NAMES = st.sampled_from(
    ["grant_type", "client_id", "client_secret", "username", "password", "scope", "refresh_token"]
)
_GRANTS = st.sampled_from(["password", "client_credentials", "refresh_token", "other", ""])


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    grant=_GRANTS,
    fields=st.lists(st.tuples(_FIELD_NAMES, st.text(max_size=300)), max_size=8),
    raw=st.binary(max_size=200),
)
def test_arbitrary_forms_and_bytes_get_a_400_body_never_a_500(
    token_client: FlaskClient, grant: str, fields: list[tuple[str, str]], raw: bytes
) -> None:
    form = urlencode([("grant_type", grant), *fields])
    for body in (form.encode(), raw, form.encode() + b"&" + raw):
        response = token_client.post(TOKEN_URL, data=body, headers={"Content-Type": FORM})
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.json is not None
        assert response.json["Errors"][0]["ErrorCode"]
