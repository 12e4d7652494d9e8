"""Message senders (both of OrderCloud's forms), delivery configs and the deliveries log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.models import Delivery, DeliveryConfig, MessageSender
from tests.factories import make_buyer, make_client, make_user
from tests.integration.admin.conftest import AdminClient, error_of

HOOK = "https://hooks.test/otp"


def _error_code(response: object) -> tuple[int, str, object]:
    error = error_of(response)  # type: ignore[arg-type]
    return response.status_code, error["ErrorCode"], error["Data"]  # type: ignore[attr-defined]


def test_a_legacy_sender_needs_both_url_and_shared_key(admin: AdminClient) -> None:
    base = {"Name": "Hook", "MessageTypes": ["OneTimePassword"]}
    assert _error_code(admin.post("/v1/messagesenders", json={**base, "SharedKey": "k"})) == (
        400,
        "MessageSenders.UrlRequired",
        {"Field": "URL"},
    )
    assert _error_code(admin.post("/v1/messagesenders", json={**base, "URL": HOOK})) == (
        400,
        "MessageSenders.SharedKeyRequired",
        {"Field": "SharedKey"},
    )
    created = admin.post(
        "/v1/messagesenders", json={**base, "ID": "s", "URL": HOOK, "SharedKey": "k"}
    )
    assert created.status_code == 201
    # Removing the URL later breaks the same rule.
    assert _error_code(admin.patch("/v1/messagesenders/s", json={"URL": None}))[1] == (
        "MessageSenders.UrlRequired"
    )


def test_a_sender_with_a_delivery_config_needs_one_that_exists(admin: AdminClient) -> None:
    missing = admin.post("/v1/messagesenders", json={"Name": "S", "DeliveryConfigID": "nope"})
    assert _error_code(missing) == (
        400,
        "MessageSenders.DeliveryConfigNotFound",
        {"Field": "DeliveryConfigID"},
    )
    admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "ID": "dc",
            "Name": "D",
            "DeliveryTargets": {"MessageSender": {"Endpoint": HOOK, "Secret": "x"}},
        },
    )
    created = admin.post("/v1/messagesenders", json={"Name": "S", "DeliveryConfigID": "dc"})
    assert created.status_code == 201
    assert created.json["URL"] is None


def test_message_types_and_template_overrides_are_validated(
    admin: AdminClient, committed_db: Engine
) -> None:
    base = {"Name": "S", "URL": HOOK, "SharedKey": "k"}
    unknown = admin.post("/v1/messagesenders", json={**base, "MessageTypes": ["Telepathy"]})
    assert unknown.status_code == 400
    assert error_of(unknown)["Data"]["Field"] == "MessageTypes.0"

    broken = admin.post(
        "/v1/messagesenders",
        json={**base, "TemplateOverrides": {"body.html": "<p>{{ code </p>"}},
    )
    assert broken.status_code == 400
    assert error_of(broken)["Data"]["Field"] == "TemplateOverrides.body.html"

    overrides = {"subject.txt": "Code for {{ username }}", "body.txt": "{{ code }}"}
    created = admin.post(
        "/v1/messagesenders",
        json={
            **base,
            "ID": "t",
            "MessageTypes": ["OneTimePassword", "OrderSubmitted"],
            "TemplateOverrides": overrides,
        },
    )
    assert created.status_code == 201
    assert created.json["TemplateOverrides"] == {**overrides, "body.html": None}
    with Session(committed_db) as session:
        sender = session.get(MessageSender, "t")
        assert sender is not None
        assert sender.template_overrides == overrides
        assert sender.shared_key == "k"


def test_delivery_config_secrets_are_write_only_and_kept_when_left_out(
    admin: AdminClient, committed_db: Engine
) -> None:
    targets = {
        "Http": {
            "Endpoint": HOOK,
            "Secret": "http-secret",
            "CustomAuthHeaderName": "X-Api-Key",
            "CustomAuthHeaderValue": "header-secret",
        },
        "Smtp": {"Host": "smtp.test", "Username": "u", "Password": "smtp-pass", "From": "a@b.c"},
    }
    created = admin.post(
        "/v1/integrations/deliveryconfig",
        json={"ID": "dc", "Name": "D", "DeliveryTargets": targets},
    )
    assert created.status_code == 201
    assert created.json["DeliveryTargets"] == {
        "Http": {"Endpoint": HOOK, "CustomAuthHeaderName": "X-Api-Key"},
        "Smtp": {
            "Host": "smtp.test",
            "Port": 587,
            "Username": "u",
            "From": "a@b.c",
            "Security": "starttls",
        },
    }
    without_secrets = {
        "Http": {"Endpoint": HOOK + "/v2", "CustomAuthHeaderName": "X-Api-Key"},
        "Smtp": {"Host": "smtp2.test", "From": "a@b.c", "Security": "tls", "Port": 465},
    }
    for method in ("PUT", "PATCH"):
        response = admin.request(
            method,
            "/v1/integrations/deliveryconfig/dc",
            roles=["DeliveryConfigAdmin"],
            json={"Name": "D", "DeliveryTargets": without_secrets},
        )
        assert response.status_code == 200, response.json
        for secret in ("http-secret", "header-secret", "smtp-pass"):
            assert secret not in response.data.decode()
    listed = admin.get("/v1/integrations/deliveryconfig").data.decode()
    assert "secret" not in listed.lower().replace("customauthheadername", "")
    with Session(committed_db) as session:
        stored = session.get(DeliveryConfig, "dc")
        assert stored is not None
        assert stored.delivery_targets["Http"]["Secret"] == "http-secret"
        assert stored.delivery_targets["Http"]["CustomAuthHeaderValue"] == "header-secret"
        assert stored.delivery_targets["Http"]["Endpoint"] == HOOK + "/v2"
        assert stored.delivery_targets["Smtp"]["Password"] == "smtp-pass"
        assert stored.delivery_targets["Smtp"]["Host"] == "smtp2.test"


def test_delivery_config_rules(admin: AdminClient) -> None:
    def create(targets: dict[str, object]) -> tuple[int, str, object]:
        return _error_code(
            admin.post(
                "/v1/integrations/deliveryconfig", json={"Name": "D", "DeliveryTargets": targets}
            )
        )

    assert create({}) == (400, "DeliveryConfig.TargetRequired", {"Field": "DeliveryTargets"})
    assert create({"Http": {"Endpoint": HOOK}}) == (
        400,
        "DeliveryConfig.SecretRequired",
        {"Field": "DeliveryTargets.Http.Secret"},
    )
    bad_security = admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "Name": "D",
            "DeliveryTargets": {"Smtp": {"Host": "h", "From": "a@b", "Security": "ssl"}},
        },
    )
    assert error_of(bad_security)["Data"]["Field"] == "DeliveryTargets.Smtp.Security"
    not_a_url = admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "Name": "D",
            "DeliveryTargets": {"MessageSender": {"Endpoint": "ftp://x", "Secret": "s"}},
        },
    )
    assert error_of(not_a_url)["Data"]["Field"] == "DeliveryTargets.MessageSender.Endpoint"


def test_the_console_target_is_refused_outside_dev_mode(admin: AdminClient) -> None:
    response = admin.post(
        "/v1/integrations/deliveryconfig", json={"Name": "D", "DeliveryTargets": {"Console": {}}}
    )
    assert _error_code(response) == (
        400,
        "DeliveryConfig.ConsoleTargetNotAllowed",
        {"Field": "DeliveryTargets.Console"},
    )


def test_the_console_target_is_accepted_in_dev_mode(dev_admin: AdminClient) -> None:
    response = dev_admin.post(
        "/v1/integrations/deliveryconfig", json={"Name": "D", "DeliveryTargets": {"Console": {}}}
    )
    assert response.status_code == 201
    assert response.json["DeliveryTargets"] == {"Console": {}}


def _deliveries(committed_db: Engine) -> datetime:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(committed_db) as session, session.begin():
        buyer = make_buyer(session)
        client = make_client(session)
        sue = make_user(session, buyer=buyer, username="Sue")
        bob = make_user(session, buyer=buyer, username="bob")
        for n, (user, status, sender) in enumerate(
            [(sue, "delivered", "hook"), (sue, "failed", "mail"), (bob, "pending", "hook")]
        ):
            session.add(
                Delivery(
                    id=f"d{n}",
                    otp_id=None,
                    sender_id=sender,
                    target="Legacy",
                    channel="webhook",
                    user_id=user.id,
                    client_id=client.id,
                    request_id=str(uuid.uuid4()),
                    status=status,
                    attempts=n + 1,
                    last_error="HTTP 500" if status == "failed" else None,
                    last_status_code=500 if status == "failed" else None,
                    expires_at=start + timedelta(minutes=10),
                    created_at=start + timedelta(hours=n),
                    updated_at=start + timedelta(hours=n),
                )
            )
    return start


def test_deliveries_are_listed_and_filtered_read_only(
    admin: AdminClient, committed_db: Engine
) -> None:
    start = _deliveries(committed_db)

    def ids(query: str) -> list[str]:
        response = admin.get(
            f"/v1/deliveries?sortBy=CreatedAt&{query}", roles=["MessageSenderReader"]
        )
        assert response.status_code == 200, response.json
        return [item["ID"] for item in response.json["Items"]]

    assert ids("") == ["d0", "d1", "d2"]
    assert ids("status=failed") == ["d1"]
    assert ids("username=SUE") == ["d0", "d1"]
    assert ids("sender=hook") == ["d0", "d2"]
    since, until = start + timedelta(minutes=30), start + timedelta(hours=2)
    window = f"from={since.isoformat()}&to={until.isoformat()}"
    assert ids(window.replace("+", "%2B")) == ["d1"]

    failed = admin.get("/v1/deliveries/d1").json
    assert failed["Status"] == "failed"
    assert failed["LastError"] == "HTTP 500"
    assert failed["LastStatusCode"] == 500
    assert failed["Attempts"] == 2
    assert set(failed) == {
        "ID",
        "OtpID",
        "SenderID",
        "Target",
        "Channel",
        "UserID",
        "ClientID",
        "RequestID",
        "Status",
        "Attempts",
        "LastError",
        "LastStatusCode",
        "ExpiresAt",
        "CreatedAt",
        "UpdatedAt",
        "DeliveredAt",
    }

    assert admin.get("/v1/deliveries?status=lost").status_code == 400
    assert admin.get("/v1/deliveries?from=2026-01-01T00:00:00").status_code == 400  # no zone
    assert admin.delete("/v1/deliveries/d1").status_code == 405
    assert admin.post("/v1/deliveries", json={}).status_code == 405


def test_a_delivery_config_in_use_by_a_sender_cannot_be_deleted(admin: AdminClient) -> None:
    targets = {"MessageSender": {"Endpoint": HOOK, "Secret": "x"}}
    admin.post(
        "/v1/integrations/deliveryconfig",
        json={"ID": "dc", "Name": "D", "DeliveryTargets": targets},
    )
    admin.post("/v1/messagesenders", json={"ID": "s", "Name": "S", "DeliveryConfigID": "dc"})
    refused = admin.delete("/v1/integrations/deliveryconfig/dc")
    assert _error_code(refused) == (
        409,
        "InUse",
        {"ObjectType": "MessageSender", "ObjectIDs": ["s"]},
    )
    assert admin.delete("/v1/messagesenders/s").status_code == 204
    assert admin.delete("/v1/integrations/deliveryconfig/dc").status_code == 204
