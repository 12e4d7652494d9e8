"""Secrets at rest: what a database dump holds, the migration, and key rotation.

Senders are configured through the admin API with a planted secret in every write-only
field; ``pg_dump`` of the database must hold none of them, while the workers' reads
(through the sealing column types) still see each one.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import migrations
from cli.main import main
from core.models import DeliveryConfig, MessageSender
from core.platform.db import make_engine
from core.platform.secret_box import SEALED_PREFIX, SecretBox, UnreadableSecret
from core.platform.settings import Settings
from tests import services
from tests.conftest import TEST_SECRET_KEY
from tests.integration.admin.conftest import AdminClient, make_admin_client

PLANTED = {
    "SharedKey": "planted-shared-key-a1",
    "MessageSender.Secret": "planted-webhook-secret-b2",
    "Http.Secret": "planted-http-secret-c3",
    "Http.CustomAuthHeaderValue": "Bearer planted-header-d4",
    "Smtp.Password": "planted-smtp-password-e5",
}


@pytest.fixture
def admin(settings: Settings, committed_db: Engine) -> Iterator[AdminClient]:
    yield from make_admin_client(settings)


def _configure_senders(admin: AdminClient) -> None:
    config = admin.post(
        "/v1/integrations/deliveryconfig",
        json={
            "ID": "dump",
            "Name": "Dump",
            "DeliveryTargets": {
                "MessageSender": {
                    "Endpoint": "https://hooks.example.com/a",
                    "Secret": PLANTED["MessageSender.Secret"],
                },
                "Http": {
                    "Endpoint": "https://hooks.example.com/b",
                    "Secret": PLANTED["Http.Secret"],
                    "CustomAuthHeaderName": "Authorization",
                    "CustomAuthHeaderValue": PLANTED["Http.CustomAuthHeaderValue"],
                },
                "Smtp": {
                    "Host": "smtp.example.com",
                    "Username": "relay",
                    "Password": PLANTED["Smtp.Password"],
                    "From": "shop@example.com",
                },
            },
        },
    )
    legacy = admin.post(
        "/v1/messagesenders",
        json={
            "ID": "dump-legacy",
            "Name": "L",
            "URL": "https://hooks.example.com/c",
            "SharedKey": PLANTED["SharedKey"],
        },
    )
    assert (config.status_code, legacy.status_code) == (201, 201), (config.data, legacy.data)


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_pg_dump_of_a_database_with_configured_senders_holds_none_of_their_secrets(
    admin: AdminClient, database_url: str, committed_db: Engine
) -> None:
    _configure_senders(admin)

    dump = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            database_url.replace("postgresql+psycopg://", "postgresql://", 1),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert "hooks.example.com/c" in dump  # the rows are in the dump: the check can fail
    assert SEALED_PREFIX in dump
    for name, secret in PLANTED.items():
        assert secret not in dump, name
        assert secret.split()[-1] not in dump, name
    with Session(committed_db) as session:  # the service itself still reads them
        sender = session.get(MessageSender, "dump-legacy")
        config = session.get(DeliveryConfig, "dump")
        assert sender is not None and config is not None
        assert sender.shared_key == PLANTED["SharedKey"]
        assert config.delivery_targets["Smtp"]["Password"] == PLANTED["Smtp.Password"]
        assert (
            config.delivery_targets["Http"]["CustomAuthHeaderValue"]
            == (PLANTED["Http.CustomAuthHeaderValue"])
        )


def test_the_migration_encrypts_rows_stored_in_clear() -> None:
    with services.postgres_server_url() as server, services.fresh_database(server) as url:
        migrations.upgrade(url, "0004")  # the revision before secrets are encrypted
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO message_senders (id, name, message_types, url, shared_key,"
                        " elevated_roles, allow_all_buyers, xp, template_overrides, created_at)"
                        " VALUES ('old', 'Old', '[]', 'https://h.example.com', :key, '[]', true,"
                        " '{}', '{}', now())"
                    ),
                    {"key": PLANTED["SharedKey"]},
                )
                connection.execute(
                    text(
                        "INSERT INTO delivery_configs (id, name, enabled, delivery_targets,"
                        " created_at) VALUES ('old', 'Old', true, CAST(:targets AS jsonb), now())"
                    ),
                    {"targets": '{"Smtp": {"Host": "h", "Password": "planted-smtp-password-e5"}}'},
                )
            migrations.upgrade(url, secret_keys=[TEST_SECRET_KEY.encode()])
            with engine.connect() as connection:
                stored_key = connection.scalar(text("SELECT shared_key FROM message_senders"))
                stored_targets = connection.scalar(
                    text("SELECT delivery_targets::text FROM delivery_configs")
                )
        finally:
            engine.dispose()
    box = SecretBox([TEST_SECRET_KEY.encode()])
    assert stored_key.startswith(SEALED_PREFIX)
    assert box.open(stored_key) == PLANTED["SharedKey"]
    assert PLANTED["Smtp.Password"] not in stored_targets
    assert SEALED_PREFIX in stored_targets


def test_reencrypt_secrets_moves_every_secret_to_the_first_key(
    admin: AdminClient,
    database_url: str,
    committed_db: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _configure_senders(admin)
    new_key = "rotated-key-0123456789abcdefghijklmnopqrstuvwxyz"
    monkeypatch.setenv("OTP_DATABASE_URL", database_url)
    monkeypatch.setenv("OTP_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("OTP_ENCRYPTION_KEYS", f"{new_key},{TEST_SECRET_KEY}")

    assert main(["reencrypt-secrets"]) == 0
    assert '"reencrypted_rows": 2' in capsys.readouterr().out

    with committed_db.connect() as connection:
        stored = connection.scalar(
            text("SELECT shared_key FROM message_senders WHERE id = 'dump-legacy'")
        )
    assert SecretBox([new_key.encode()]).open(stored) == PLANTED["SharedKey"]
    with pytest.raises(UnreadableSecret):
        SecretBox([TEST_SECRET_KEY.encode()]).open(stored)
