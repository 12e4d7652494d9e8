from __future__ import annotations

import os
import subprocess

import httpx
import jwt
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import TEST_SECRET_KEY
from tests.factories import make_otp
from tests.integration.token.conftest import make_shop, password_form
from tests.processes import free_port, otp_command, started, wait_until_healthy

pytestmark = pytest.mark.e2e


def test_otp_token_serves_an_otp_login_from_postgres(
    committed_db: Engine, database_url: str, jwt_private_key: str
) -> None:
    from core.platform.settings import load_settings

    settings = load_settings({"OTP_SECRET_KEY": TEST_SECRET_KEY})
    with Session(committed_db, expire_on_commit=False) as data:
        shop = make_shop(data)
        _, code = make_otp(data, shop.user, shop.client, settings)
        data.commit()
    port = free_port()
    env = {
        **os.environ,
        "OTP_DATABASE_URL": database_url,
        "OTP_SECRET_KEY": TEST_SECRET_KEY,
        "OTP_JWT_PRIVATE_KEY": jwt_private_key,
        "OTP_LOG_FORMAT": "json",
    }
    env.pop("OTP_BROKER_URL", None)  # the token handler needs no broker
    command = otp_command("token", "--bind", f"127.0.0.1:{port}", "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    with started(command, env=env) as process:
        wait_until_healthy(base, process)
        assert httpx.get(f"{base}/readyz").json()["checks"] == {"database": "ok"}
        jwks = httpx.get(f"{base}/.well-known/jwks.json").json()
        first = httpx.post(f"{base}/oauth/token", data=password_form(shop, code))
        second = httpx.post(f"{base}/oauth/token", data=password_form(shop, code))
    assert first.status_code == 200, first.text
    token = first.json()["access_token"]
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key, algorithms=["ES256"], audience="otp-service")
    assert (claims["usr"], claims["usrtype"]) == (shop.user.username, "buyer")
    assert second.json()["Errors"][0]["ErrorCode"] == "Auth.InvalidUsernameOrPassword"
    assert code not in process.output()  # the OTP never reaches a log line


def test_otp_token_with_an_unreadable_signing_key_stops_with_one_line() -> None:
    env = {
        **os.environ,
        "OTP_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x",
        "OTP_SECRET_KEY": TEST_SECRET_KEY,
        "OTP_JWT_PRIVATE_KEY": "not a pem",
    }
    result = subprocess.run(
        otp_command("token"), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "otp token: OTP_JWT_PRIVATE_KEY is not a readable PEM private key"
    ]
