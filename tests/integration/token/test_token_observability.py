"""The token handler's metrics, and its OTP-login line under the OTP request's id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session

from core.platform.settings import Settings
from tests.doubles import FrozenClock
from tests.factories import make_otp
from tests.integration.token.conftest import make_shop, password_form, post_token
from tests.logs import capture_json_log


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    with capture_json_log(logging.INFO) as stream:
        yield stream


def grants(outcome: str, credential: str = "none", grant_type: str = "password") -> float:
    labels = {"grant_type": grant_type, "outcome": outcome, "credential": credential}
    return REGISTRY.get_sample_value("otp_token_grants_total", labels) or 0.0


def test_an_otp_login_is_logged_under_its_otp_requests_id_and_counted_as_an_otp_grant(
    data: Session,
    token_client: FlaskClient,
    token_settings: Settings,
    clock: FrozenClock,
    json_log: io.StringIO,
) -> None:
    shop = make_shop(data)
    otp, code = make_otp(data, shop.user, shop.client, token_settings, now=clock.now())
    data.commit()
    before = grants("granted", "otp")
    answer = post_token(token_client, password_form(shop, code))
    assert answer.status_code == 200
    assert grants("granted", "otp") == before + 1
    entries = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (signed_in,) = [e for e in entries if e["message"] == "signed in with a one-time password"]
    assert signed_in["correlation_id"] == signed_in["otp_request_id"] == otp.request_id
    assert signed_in["token_request_id"] != otp.request_id
    (access,) = [e for e in entries if e["logger"] == "otp.access"]
    assert access["correlation_id"] == otp.request_id
    assert code not in json_log.getvalue()


def test_the_failure_that_locks_an_account_counts_one_lockout_and_later_ones_none(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data, password_config={"AllowedFailedAttempts": 3})
    data.commit()
    lockouts = REGISTRY.get_sample_value("otp_lockouts_total") or 0.0
    invalid, locked = grants("invalid_grant"), grants("locked_out")
    for _ in range(5):
        post_token(token_client, password_form(shop, "wrong-password"))
    assert (REGISTRY.get_sample_value("otp_lockouts_total") or 0.0) == lockouts + 1
    assert grants("invalid_grant") == invalid + 3
    assert grants("locked_out") == locked + 2


def test_a_password_login_counts_as_a_password_grant(
    data: Session, token_client: FlaskClient
) -> None:
    shop = make_shop(data)
    data.commit()
    before = grants("granted", "password")
    assert post_token(token_client, password_form(shop)).status_code == 200
    assert grants("granted", "password") == before + 1
