"""The real webhook transport: one pooled ``httpx.Client`` per worker process."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import httpx

from core.delivery.webhooks import WebhookResponse

# Errors that retrying cannot fix: the endpoint itself is malformed.
_PERMANENT_ERRORS = (httpx.InvalidURL, httpx.UnsupportedProtocol)


class HttpxWebhookTransport:
    """POSTs webhooks; the client is created on first use, so after a worker fork."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self._timeout,
                    follow_redirects=False,
                    headers={"User-Agent": "otp-service-webhooks/1"},
                )
            return self._client

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        try:
            # Streamed and closed unread: a receiver's answer body is never needed or kept.
            with self.client.stream("POST", url, content=body, headers=dict(headers)) as answer:
                return WebhookResponse(answer.status_code, answer.headers.get("Retry-After"))
        except _PERMANENT_ERRORS as error:
            return WebhookResponse(None, error=_describe(error, url), permanent=True)
        except httpx.HTTPError as error:
            return WebhookResponse(None, error=_describe(error, url))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _describe(error: Exception, url: str) -> str:
    """The error's kind and message, without the URL (it may carry a token)."""
    message = str(error).replace(url, "<endpoint>") if url else str(error)
    return f"{type(error).__name__}: {message}"[:300]
