"""HTTP deployables: the api app (``create_app``) and the token handler (``api.token``)."""

from api.app import create_app

__all__ = ["create_app"]
