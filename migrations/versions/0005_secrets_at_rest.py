"""secrets at rest: SharedKeys and delivery target secrets encrypted

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from core.models.secrets import count_stored_secrets, rewrite_stored_secrets
from core.platform.secret_box import SecretBox
from core.platform.settings import load_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _box() -> SecretBox | None:
    """The keys ``otp migrate`` passed, else those of the environment; None if neither."""
    keys = context.config.attributes.get("secret_keys") or load_settings().secrets_at_rest_keys
    return SecretBox(keys) if keys else None


def _box_for_stored_secrets() -> SecretBox | None:
    box = _box()
    if box is None and count_stored_secrets(op.get_bind()):
        raise SystemExit(
            "migrations: OTP_SECRET_KEY (or OTP_ENCRYPTION_KEYS) is needed to encrypt "
            "the stored secrets"
        )
    return box


def upgrade() -> None:
    with op.batch_alter_table("message_senders") as batch:
        batch.alter_column(
            "shared_key",
            type_=sa.Text(),
            existing_type=sa.String(length=500),
            existing_nullable=True,
        )
    box = _box_for_stored_secrets()
    if box is not None:
        rewrite_stored_secrets(op.get_bind(), box.seal)


def downgrade() -> None:
    box = _box_for_stored_secrets()
    if box is not None:
        rewrite_stored_secrets(op.get_bind(), box.open)
    with op.batch_alter_table("message_senders") as batch:
        batch.alter_column(
            "shared_key",
            type_=sa.String(length=500),
            existing_type=sa.Text(),
            existing_nullable=True,
        )
