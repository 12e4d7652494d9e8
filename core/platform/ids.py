"""Identifiers in OrderCloud's style."""

from __future__ import annotations

import secrets
import uuid


def new_id() -> str:
    """A 22-character URL-safe random ID, like the ones OrderCloud generates."""
    return secrets.token_urlsafe(16)


def new_client_id() -> str:
    """API client IDs are upper-case GUIDs, as in OrderCloud."""
    return str(uuid.uuid4()).upper()


def new_uuid() -> str:
    return str(uuid.uuid4())
