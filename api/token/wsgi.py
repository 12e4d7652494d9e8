"""WSGI entry for servers other than ``otp token``: ``gunicorn 'api.token.wsgi:create()'``.

A factory rather than a module-level app, so importing this module reads no settings.
"""

from __future__ import annotations

from flask import Flask

from api.token.app import create_token_app


def create() -> Flask:
    return create_token_app()
