"""OrderCloud properties: users' PasswordLastSetDate and TermsAccepted, buyers'
DefaultCatalogID; AllowAllBuyers now means what it says.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("password_set_at", core.models.base.UTCDateTime(), nullable=True)
    )
    op.add_column(
        "users", sa.Column("terms_accepted_at", core.models.base.UTCDateTime(), nullable=True)
    )
    op.add_column("buyers", sa.Column("default_catalog_id", sa.String(length=100), nullable=True))
    # Users whose password was set before this column existed: the best known date is
    # when the account was made.
    op.execute("UPDATE users SET password_set_at = created_at WHERE password_hash IS NOT NULL")
    # AllowAllBuyers used to default to true and mean nothing; it now reaches every buyer's
    # users. Senders that were given assignments keep reaching only those.
    op.execute(
        "UPDATE message_senders SET allow_all_buyers = false WHERE id IN "
        "(SELECT message_sender_id FROM message_sender_assignments)"
    )


def downgrade() -> None:
    op.drop_column("buyers", "default_catalog_id")
    op.drop_column("users", "terms_accepted_at")
    op.drop_column("users", "password_set_at")
