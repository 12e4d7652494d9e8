"""Housekeeping an operator runs (or a cron job): purge, dead letters, re-encryption."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from cli.database import command_engine
from core.messaging.routes import ALL_QUEUES
from core.models.secrets import rewrite_stored_secrets
from core.otp.purge import DEFAULT_BATCH_SIZE, purge_expired
from core.platform.clock import Clock, SystemClock
from core.platform.secret_box import SecretBox
from core.platform.settings import Settings


def purge(
    settings: Settings, *, batch_size: int = DEFAULT_BATCH_SIZE, clock: Clock | None = None
) -> None:
    """Print one JSON line with how many rows each sweep touched."""
    with command_engine(settings) as engine:
        report = purge_expired(
            engine,
            now=(clock or SystemClock()).now(),
            audit_retention=settings.audit_retention,
            throttle_window=settings.otp_throttle_window,
            batch_size=batch_size,
        )
    print(json.dumps(report.as_dict()))


def list_dead_letters(settings: Settings, *, queues: Sequence[str] | None, limit: int) -> None:
    """One JSON line per dead-lettered message; the messages stay where they are."""
    from workers.dead_letters import list_dead_letters as describe_all

    settings.require("broker_url")
    assert settings.broker_url is not None
    for letter in describe_all(settings.broker_url, queues or ALL_QUEUES, limit=limit):
        print(json.dumps(letter.as_dict()))
    sys.stdout.flush()


def replay_dead_letters(
    settings: Settings, *, queues: Sequence[str] | None, limit: int | None
) -> None:
    """Move dead letters back to their queues; one JSON line with the counts."""
    from workers.dead_letters import replay_dead_letters as replay_all

    settings.require("broker_url")
    assert settings.broker_url is not None
    per_queue = replay_all(settings.broker_url, queues or ALL_QUEUES, limit=limit)
    print(json.dumps({"replayed": sum(per_queue.values()), "queues": per_queue}))


def reencrypt_secrets(settings: Settings) -> None:
    """Reseal every stored secret under the first key; one JSON line with the row count.

    Run after putting a new key first in ``OTP_ENCRYPTION_KEYS`` (old keys after it);
    once it has run, the old keys can be dropped.
    """
    settings.require("database_url", "secret_key")
    box = SecretBox(settings.secrets_at_rest_keys)
    with command_engine(settings) as engine, engine.begin() as connection:
        rewritten = rewrite_stored_secrets(connection, box.reseal)
    print(json.dumps({"reencrypted_rows": rewritten}))
