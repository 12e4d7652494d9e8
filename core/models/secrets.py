"""Column types that keep secrets encrypted in the database (:mod:`core.platform.secret_box`).

Rows read through the ORM or Core statements carry plaintext in Python; PostgreSQL (and
so every backup) only ever holds ``enc:v1:`` tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Connection, Dialect

from core.models.base import JsonDocument
from core.platform.secret_box import secret_box

# Which fields of each delivery target are secrets: stored encrypted, never returned,
# and kept when a PUT or PATCH leaves them out.
TARGET_SECRET_FIELDS: Mapping[str, tuple[str, ...]] = {
    "MessageSender": ("Secret",),
    "Http": ("Secret", "CustomAuthHeaderValue"),
    "Smtp": ("Password",),
    "Console": (),
}

# Every field name that holds a secret, whichever the target.
SECRET_FIELDS = frozenset(field for fields in TARGET_SECRET_FIELDS.values() for field in fields)


class SealedText(TypeDecorator[str]):
    """Text encrypted at rest."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else secret_box().seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else secret_box().open_or_keep(value)


class TargetsWithSealedSecrets(TypeDecorator[dict[str, Any]]):
    """``DeliveryTargets`` JSON whose secret fields are encrypted at rest."""

    impl = JsonDocument
    cache_ok = True

    def process_bind_param(
        self, value: dict[str, Any] | None, dialect: Dialect
    ) -> dict[str, Any] | None:
        return None if value is None else map_target_secrets(value, secret_box().seal)

    def process_result_value(
        self, value: dict[str, Any] | None, dialect: Dialect
    ) -> dict[str, Any] | None:
        return None if value is None else map_target_secrets(value, secret_box().open_or_keep)


def map_target_secrets(targets: Mapping[str, Any], change: Any) -> dict[str, Any]:
    """A copy of ``targets`` with ``change`` applied to every secret field that is text."""
    changed: dict[str, Any] = {}
    for name, target in targets.items():
        if not isinstance(target, dict):
            changed[name] = target
            continue
        copy = dict(target)
        for field in TARGET_SECRET_FIELDS.get(name, ()):
            if isinstance(copy.get(field), str):
                copy[field] = change(copy[field])
        changed[name] = copy
    return changed


_SENDERS = sa.table("message_senders", sa.column("id", sa.String), sa.column("shared_key", Text))
_CONFIGS = sa.table(
    "delivery_configs", sa.column("id", sa.String), sa.column("delivery_targets", JsonDocument)
)


def rewrite_stored_secrets(connection: Connection, change: Callable[[str], str]) -> int:
    """Apply ``change`` to every stored secret as it is in the database; rows rewritten.

    Raw values, not the sealing column types: the migration seals plaintext with it,
    ``otp reencrypt-secrets`` reseals under the first key, a downgrade opens them.
    """
    rewritten = 0
    for sender_id, stored in connection.execute(
        sa.select(_SENDERS.c.id, _SENDERS.c.shared_key).where(_SENDERS.c.shared_key.is_not(None))
    ):
        changed = change(stored)
        if changed != stored:
            connection.execute(
                sa.update(_SENDERS).where(_SENDERS.c.id == sender_id).values(shared_key=changed)
            )
            rewritten += 1
    for config_id, targets in connection.execute(
        sa.select(_CONFIGS.c.id, _CONFIGS.c.delivery_targets)
    ):
        if not isinstance(targets, dict):
            continue
        changed_targets = map_target_secrets(targets, change)
        if changed_targets != targets:
            connection.execute(
                sa.update(_CONFIGS)
                .where(_CONFIGS.c.id == config_id)
                .values(delivery_targets=changed_targets)
            )
            rewritten += 1
    return rewritten


def count_stored_secrets(connection: Connection) -> int:
    """Rows holding a secret of either kind (does the migration need a key?)."""
    senders = connection.scalar(
        sa.select(sa.func.count()).where(_SENDERS.c.shared_key.is_not(None))
    )
    configs = connection.scalar(sa.select(sa.func.count()).select_from(_CONFIGS))
    return int(senders or 0) + int(configs or 0)
