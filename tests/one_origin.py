"""One origin in front of the real ``otp api`` and ``otp token`` processes, for clients such
as OrderCloud's SDK that know a single base URL.

A small reverse proxy on loopback, routing as ``deploy/nginx.conf`` and ``otp dev`` do:
``/oauth/`` and ``/.well-known/`` to the token handler, everything else to the api.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from werkzeug.serving import make_server

from cli.dev import TOKEN_PATH_PREFIXES

# Hop-by-hop headers, and what httpx already undid (the body is decoded and re-measured).
_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"}
)


def proxy(client: httpx.Client, api: str, token: str) -> Any:
    """The WSGI app that forwards each request to ``api`` or ``token`` unchanged."""

    def forward(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        upstream = token if path.startswith(TOKEN_PATH_PREFIXES) else api
        # The path and query exactly as the client encoded them.
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or path
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key not in ("HTTP_HOST", "HTTP_CONNECTION")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        answer = client.request(
            environ["REQUEST_METHOD"], f"{upstream}{target}", headers=headers, content=body
        )
        kept = [
            (name, value)
            for name, value in answer.headers.multi_items()
            if name.lower() not in _NOT_FORWARDED
        ]
        kept.append(("Content-Length", str(len(answer.content))))
        start_response(f"{answer.status_code} {answer.reason_phrase}", kept)
        return [answer.content]

    return forward


@contextlib.contextmanager
def one_origin(api: str, token: str) -> Iterator[str]:
    """The proxy on ``http://127.0.0.1:<free port>`` for the block; yields its base URL."""
    with httpx.Client(timeout=60) as client:
        server = make_server("127.0.0.1", 0, proxy(client, api, token), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()
            server.server_close()
