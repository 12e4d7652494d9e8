"""The admin resources of docs/admin-api.md, registered on the api app."""

from __future__ import annotations

from flask import Flask

from api.admin.assignments import all_assignments, assignments_blueprint
from api.admin.collection import collection_blueprint
from api.admin.identity import identity_collections
from api.admin.messaging import messaging_collections
from api.admin.previews import previews_blueprint
from core.identity.passwords import PasswordHasher
from core.platform.runtime import Runtime


def register_admin(app: Flask, runtime: Runtime) -> None:
    """Every admin collection and assignment list, with its OpenAPI operations."""
    hasher = PasswordHasher(runtime.settings.password_hash)
    collections = identity_collections(hasher, runtime.clock) + messaging_collections(
        runtime.settings
    )
    # Assignment lists first: their static paths must win over "<collection>/<objectID>".
    for assignments in all_assignments():
        app.register_blueprint(assignments_blueprint(assignments))
    for collection in collections:
        app.register_blueprint(collection_blueprint(collection))
    app.register_blueprint(previews_blueprint())
