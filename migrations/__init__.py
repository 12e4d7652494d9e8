"""Alembic environment and revisions; :func:`upgrade` is what ``otp migrate`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(database_url: str, secret_keys: Sequence[bytes] = ()) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["database_url"] = database_url
    # The keys that encrypt stored secrets (revision 0005 encrypts the rows it finds).
    config.attributes["secret_keys"] = tuple(secret_keys)
    return config


def upgrade(database_url: str, revision: str = "head", secret_keys: Sequence[bytes] = ()) -> None:
    """Apply migrations; concurrent runs serialise on a PostgreSQL advisory lock."""
    command.upgrade(alembic_config(database_url, secret_keys), revision)
