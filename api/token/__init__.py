"""The token handler: ``POST /oauth/token`` and ``GET /.well-known/jwks.json``."""

from api.token.app import create_token_app

__all__ = ["create_token_app"]
