"""POST /v1/password/onetimepassword: every row of docs/http-api.md's table, on real PostgreSQL and
RabbitMQ (the session's own vhost)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import create_app
from core.messaging.events import OtpRequested
from core.messaging.routes import ISSUE_OTPS
from core.otp.intake import OtpIntake, OtpRequestInput
from core.platform.cache import LOOKUP_TTL
from core.platform.db import make_session_factory
from core.platform.runtime import Runtime
from core.platform.settings import Settings
from tests.doubles import FrozenClock, RecordingEventPublisher
from tests.factories import (
    SenderReach,
    make_client,
    make_otp_sender_with_config,
    make_webhook_sender,
)
from tests.otp_marketplace import (
    OTP_PATH,
    Marketplace,
    committed_marketplace,
    set_client_active,
    set_sender_message_types,
)
from tests.otp_queue import queued_count, take_all

PAST_TTL = (LOOKUP_TTL + timedelta(seconds=1)).total_seconds()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def otp_runtime(settings: Settings, clock: FrozenClock, clean_broker: str) -> Iterator[Runtime]:
    runtime = Runtime(settings, clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def client(otp_runtime: Runtime) -> FlaskClient:
    return create_app(runtime=otp_runtime).test_client()


@pytest.fixture
def marketplace(committed_db: Engine) -> Marketplace:
    return committed_marketplace(committed_db)


def error_of(response: Any) -> dict[str, Any]:
    errors = response.json["Errors"]
    assert len(errors) == 1
    first: dict[str, Any] = errors[0]
    return first


def test_a_valid_request_queues_one_persistent_message_carrying_only_what_was_sent(
    client: FlaskClient, marketplace: Marketplace, broker_url: str
) -> None:
    response = client.post(
        OTP_PATH, json={"ClientID": marketplace.client_id, "Username": "ann", "Email": "a@x.io"}
    )

    assert response.status_code == 204
    assert response.data == b""
    assert "Content-Type" not in response.headers
    [queued] = take_all(broker_url)
    assert queued.delivery_mode == 2
    assert queued.message.actor_name == ISSUE_OTPS.actor_name
    assert queued.message.kwargs == {}
    [argument] = queued.message.args
    event = OtpRequested.from_message(argument)
    assert (event.client_id, event.username, event.email) == (
        marketplace.client_id,
        "ann",
        "a@x.io",
    )
    assert len(event.request_id) == 32
    assert event.client_ip == "127.0.0.1"
    assert set(argument) == {
        "v",
        "request_id",
        "client_id",
        "username",
        "email",
        "requested_at",
        "client_ip",
    }


def test_unknown_fields_are_ignored_and_not_queued(
    client: FlaskClient, marketplace: Marketplace, broker_url: str
) -> None:
    body = {"ClientID": marketplace.client_id, "Email": "a@x.io", "Password": "hunter2", "xp": {}}

    response = client.post(OTP_PATH, json=body)

    assert response.status_code == 204
    [queued] = take_all(broker_url)
    assert b"hunter2" not in queued.body
    assert OtpRequested.from_message(queued.message.args[0]).username is None


def test_strings_of_exactly_255_characters_are_accepted(
    client: FlaskClient, marketplace: Marketplace
) -> None:
    body = {"ClientID": marketplace.client_id, "Username": "u" * 255, "Email": "e" * 255}
    assert client.post(OTP_PATH, json=body).status_code == 204


@pytest.mark.parametrize("field", ["ClientID", "Username", "Email"])
def test_a_string_over_255_characters_is_invalid_and_named(
    client: FlaskClient, marketplace: Marketplace, broker_url: str, field: str
) -> None:
    body = {"ClientID": marketplace.client_id, "Username": "ann", field: "x" * 256}

    response = client.post(OTP_PATH, json=body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["ErrorCode"] == "InvalidRequest"
    assert error["Data"]["Field"] == field
    assert "x" * 256 not in response.get_data(as_text=True)
    assert queued_count(broker_url) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("ClientID", 123), ("Username", True), ("Email", {"a": 1}), ("Username", ["ann"])],
)
def test_a_field_of_the_wrong_type_is_invalid_and_named(
    client: FlaskClient, marketplace: Marketplace, field: str, value: object
) -> None:
    body = {"ClientID": marketplace.client_id, "Username": "ann", field: value}

    response = client.post(OTP_PATH, json=body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["ErrorCode"] == "InvalidRequest"
    assert error["Data"]["Field"] == field


@pytest.mark.parametrize(
    "raw_body",
    [b"not json", b'{"ClientID": ', b'["ClientID", "Username"]', b"null", b'"text"', b""],
)
def test_a_body_that_is_not_a_json_object_is_invalid(
    client: FlaskClient, marketplace: Marketplace, broker_url: str, raw_body: bytes
) -> None:
    response = client.post(OTP_PATH, data=raw_body, content_type="application/json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["ErrorCode"] == "InvalidRequest"
    assert error["Data"] == {"Field": None, "Reason": "body is not a JSON object"}
    assert queued_count(broker_url) == 0


@pytest.mark.parametrize(
    "names",
    [{}, {"Username": "", "Email": ""}, {"Username": "  ", "Email": "\t"}, {"Username": None}],
)
def test_neither_username_nor_email_is_refused(
    client: FlaskClient, marketplace: Marketplace, broker_url: str, names: dict[str, Any]
) -> None:
    response = client.post(OTP_PATH, json={"ClientID": marketplace.client_id, **names})

    assert response.status_code == 400
    assert error_of(response)["ErrorCode"] == "OneTimePasswordRequest.UsernameOrEmailRequired"
    assert queued_count(broker_url) == 0


@pytest.mark.parametrize("client_id", [None, "", "   ", "NO-SUCH-CLIENT"])
def test_a_missing_or_unknown_client_id_is_refused(
    client: FlaskClient, marketplace: Marketplace, broker_url: str, client_id: str | None
) -> None:
    body: dict[str, Any] = {"Username": "ann"}
    if client_id is not None:
        body["ClientID"] = client_id

    response = client.post(OTP_PATH, json=body)

    assert response.status_code == 400
    assert error_of(response)["ErrorCode"] == "ApiClient.InvalidClientID"
    assert queued_count(broker_url) == 0


def test_an_inactive_client_is_refused(client: FlaskClient, committed_db: Engine) -> None:
    with Session(committed_db, expire_on_commit=False) as session:
        inactive = make_client(session, active=False)
        make_webhook_sender(session, url="http://127.0.0.1:9/hook")
        session.commit()

    response = client.post(OTP_PATH, json={"ClientID": inactive.id, "Email": "a@x.io"})

    assert response.status_code == 400
    assert error_of(response)["ErrorCode"] == "ApiClient.InvalidClientID"


def test_without_any_otp_sender_the_request_is_not_configured(
    client: FlaskClient, committed_db: Engine, broker_url: str
) -> None:
    marketplace = committed_marketplace(committed_db, with_sender=False)

    response = client.post(OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@x.io"})

    assert response.status_code == 400
    assert error_of(response)["ErrorCode"] == "OneTimePasswordRequest.NotConfigured"
    assert queued_count(broker_url) == 0


def test_a_sender_of_other_message_types_does_not_configure_otps(
    client: FlaskClient, committed_db: Engine
) -> None:
    marketplace = committed_marketplace(committed_db)
    set_sender_message_types(committed_db, marketplace.sender_id, ["ForgottenPassword"])

    response = client.post(OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@x.io"})

    assert error_of(response)["ErrorCode"] == "OneTimePasswordRequest.NotConfigured"


@pytest.mark.parametrize(
    ("reach", "status"), [("unassigned", 400), ("all_buyers", 204), ("marketplace", 204)]
)
def test_a_sender_counts_only_when_it_reaches_someone(
    client: FlaskClient, committed_db: Engine, reach: SenderReach, status: int
) -> None:
    # AllowAllBuyers (OrderCloud's way) or an assignment: the rule the fan-out uses too.
    marketplace = committed_marketplace(committed_db, with_sender=False)
    with Session(committed_db) as session:
        make_webhook_sender(session, url="http://127.0.0.1:9/hook", reach=reach)
        session.commit()

    response = client.post(OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@x.io"})

    assert response.status_code == status
    if status == 400:
        assert error_of(response)["ErrorCode"] == "OneTimePasswordRequest.NotConfigured"


@pytest.mark.parametrize(("enabled", "status"), [(False, 400), (True, 204)])
def test_a_sender_counts_only_when_its_delivery_config_is_enabled(
    client: FlaskClient, committed_db: Engine, enabled: bool, status: int
) -> None:
    marketplace = committed_marketplace(committed_db, with_sender=False)
    with Session(committed_db) as session:
        make_otp_sender_with_config(session, enabled=enabled)
        session.commit()

    response = client.post(OTP_PATH, json={"ClientID": marketplace.client_id, "Email": "a@x.io"})

    assert response.status_code == status


def test_a_client_deactivated_through_the_admin_api_is_refused_once_the_cache_expires(
    client: FlaskClient, marketplace: Marketplace, committed_db: Engine, clock: FrozenClock
) -> None:
    body = {"ClientID": marketplace.client_id, "Username": "ann"}
    assert client.post(OTP_PATH, json=body).status_code == 204

    set_client_active(committed_db, marketplace.client_id, active=False)
    # Within the TTL the cached answer stands: the api did not go back to the database.
    assert client.post(OTP_PATH, json=body).status_code == 204
    clock.advance(PAST_TTL)
    refused = client.post(OTP_PATH, json=body)

    assert refused.status_code == 400
    assert error_of(refused)["ErrorCode"] == "ApiClient.InvalidClientID"
    set_client_active(committed_db, marketplace.client_id, active=True)
    clock.advance(PAST_TTL)
    assert client.post(OTP_PATH, json=body).status_code == 204


def test_a_sender_removed_from_otps_is_noticed_once_the_cache_expires(
    client: FlaskClient, marketplace: Marketplace, committed_db: Engine, clock: FrozenClock
) -> None:
    body = {"ClientID": marketplace.client_id, "Email": "a@x.io"}
    assert client.post(OTP_PATH, json=body).status_code == 204

    set_sender_message_types(committed_db, marketplace.sender_id, [])
    clock.advance(PAST_TTL)
    response = client.post(OTP_PATH, json=body)

    assert error_of(response)["ErrorCode"] == "OneTimePasswordRequest.NotConfigured"


def test_an_unreachable_database_answers_503_with_retry_after(
    settings: Settings, clean_broker: str
) -> None:
    runtime = Runtime(settings.replace(database_url="postgresql+psycopg://postgres@127.0.0.1:1/x"))
    try:
        client = create_app(runtime=runtime).test_client()
        response = client.post(OTP_PATH, json={"ClientID": "C", "Email": "a@x.io"})
    finally:
        runtime.close()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert error_of(response)["ErrorCode"] == "ServiceUnavailable"
    assert queued_count(clean_broker) == 0


def test_the_intake_returns_the_id_of_the_one_event_it_published(
    committed_db: Engine, marketplace: Marketplace, clock: FrozenClock
) -> None:
    publisher = RecordingEventPublisher()
    intake = OtpIntake(make_session_factory(committed_db), publisher, clock)

    request_id = intake.request_otp(
        OtpRequestInput(client_id=marketplace.client_id, username="ann", email=None)
    )

    [event] = publisher.otp_requests
    assert event.request_id == request_id
    assert (event.username, event.email, event.requested_at) == ("ann", None, clock.now())
