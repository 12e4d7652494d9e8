"""indexes for OrderCloud list filters, search and sort on users

Revision ID: 0003
Revises: 0002

Substring search and text filters (ILIKE '%term%') use a pg_trgm GIN index; xp filters
a jsonb_path_ops GIN index; each sortBy key a (buyer_id, key, id) B-tree, so a page of one
buyer's users (admin users: buyer_id IS NULL) is read in index order. ix_users_buyer_id is
replaced by (buyer_id, id), which also serves the buyers foreign key. On SQLite (dev mode)
the same indexes are plain ones.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_KEYS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "active",
    "created_at",
    "last_login_at",
    "password_set_at",
)
SEARCH_COLUMNS = ("id", "username", "email", "first_name", "last_name")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.drop_index("ix_users_buyer_id", table_name="users")
    op.create_index("ix_users_buyer_id_id", "users", ["buyer_id", "id"])
    for key in SORT_KEYS:
        op.create_index(f"ix_users_buyer_id_{key}", "users", ["buyer_id", key, "id"])
    op.create_index(
        "ix_users_search_trgm",
        "users",
        list(SEARCH_COLUMNS),
        postgresql_using="gin",
        postgresql_ops=dict.fromkeys(SEARCH_COLUMNS, "gin_trgm_ops"),
    )
    op.create_index(
        "ix_users_xp", "users", ["xp"], postgresql_using="gin", postgresql_ops={"xp": "jsonb_path_ops"}
    )


def downgrade() -> None:
    op.drop_index("ix_users_xp", table_name="users")
    op.drop_index("ix_users_search_trgm", table_name="users")
    for key in SORT_KEYS:
        op.drop_index(f"ix_users_buyer_id_{key}", table_name="users")
    op.drop_index("ix_users_buyer_id_id", table_name="users")
    op.create_index("ix_users_buyer_id", "users", ["buyer_id"])
