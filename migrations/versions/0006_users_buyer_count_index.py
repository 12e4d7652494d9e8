"""users: an index on buyer_id alone, for the exact TotalCount of a buyer's users

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 22:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # B-tree deduplication packs one buyer's entries into posting lists, so counting a
    # buyer of 1,000,000 users reads ~860 pages instead of ~4,900 (docs/list-queries.md).
    op.create_index("ix_users_buyer_id", "users", ["buyer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_buyer_id", table_name="users")
