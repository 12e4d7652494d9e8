"""U+0000 cannot be stored in PostgreSQL text: the api refuses it up front with a 400.

Found by the reliability suite's schemathesis run: a NUL in an admin body, an ``xp``
value, a query value or the public OTP request reached PostgreSQL and came back a 500.
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.models import Buyer
from core.platform.runtime import Runtime
from tests.factories import bootstrapped_admin_headers


def _full_access(runtime: Runtime, engine: Engine) -> dict[str, str]:
    return bootstrapped_admin_headers(runtime, engine, "nul-admin")


def _refusal(response: object) -> dict[str, object]:
    assert getattr(response, "status_code", None) == 400
    body = response.get_json()  # type: ignore[attr-defined]
    error: dict[str, object] = body["Errors"][0]
    assert error["ErrorCode"] == "InvalidRequest"
    return error


def test_a_nul_in_the_otp_request_is_a_400_naming_the_field(api_client: FlaskClient) -> None:
    response = api_client.post(
        "/v1/password/onetimepassword",
        data='{"ClientID": "abc\\u0000", "Username": "someone"}',
        headers={"Content-Type": "application/json"},
    )
    assert _refusal(response)["Data"] == {
        "Field": "ClientID",
        "Reason": "NUL characters (U+0000) are not allowed",
    }


def test_a_nul_anywhere_in_an_admin_body_is_a_400_and_nothing_is_stored(
    api_client: FlaskClient, runtime: Runtime, committed_db: Engine
) -> None:
    headers = _full_access(runtime, committed_db)
    in_name = api_client.post(
        "/v1/buyers", data='{"ID": "b1", "Name": "a\\u0000b"}', headers=headers
    )
    in_xp = api_client.post(
        "/v1/buyers",
        data='{"ID": "b2", "Name": "ok", "xp": {"k": ["x", "\\u0000"]}}',
        headers=headers,
    )
    assert _refusal(in_name)["Data"]["Field"] == "Name"  # type: ignore[index]
    assert _refusal(in_xp)["Data"]["Field"] == "xp.k.1"  # type: ignore[index]
    with Session(committed_db) as session:
        assert session.scalar(select(func.count()).select_from(Buyer)) == 0


def test_a_nul_in_a_query_value_is_a_400(
    api_client: FlaskClient, runtime: Runtime, committed_db: Engine
) -> None:
    headers = _full_access(runtime, committed_db)
    assert _refusal(api_client.get("/v1/buyers?search=%00", headers=headers))["Data"] == {
        "Field": "search",
        "Reason": "NUL characters (U+0000) are not allowed",
    }


def test_an_escaped_backslash_before_u0000_is_ordinary_text(
    api_client: FlaskClient, runtime: Runtime, committed_db: Engine
) -> None:
    headers = _full_access(runtime, committed_db)
    response = api_client.post(
        "/v1/buyers", data='{"ID": "b3", "Name": "C:\\\\u0000"}', headers=headers
    )
    assert response.status_code == 201
    assert response.get_json()["Name"] == "C:\\u0000"
