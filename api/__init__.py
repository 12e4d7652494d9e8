"""HTTP deployables: the api app (``create_app``) and the token handler (``api.token``).

``create_app`` is imported on first use, so that the token handler, which lives in this
package, does not load the whole admin api (and its memory) when it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
