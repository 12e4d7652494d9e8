"""The webhook channel: signed POSTs over one pooled ``httpx.Client`` per worker process.

What is sent and what an answer means come from ``core.delivery.webhooks``; this module
only talks HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from core.delivery.attempts import AttemptResult, OtpMessage
from core.delivery.mail import redact
from core.delivery.webhooks import WebhookResponse, build_webhook_request, classify_response
from core.platform.clock import Clock

# Errors that retrying cannot fix: the endpoint is malformed, or a header or the URL
# cannot be sent (h11 refuses CR/LF in a header, httpx cannot encode non-ASCII); these are
# raised before the request leaves, so nothing was delivered.
_PERMANENT_ERRORS = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_UNSENDABLE = "the request cannot be sent: a header or the URL is malformed"


class WebhookChannel:
    """Builds, signs and POSTs one OTP webhook per attempt, and classifies the answer."""

    def __init__(self, timeout: float, clock: Clock) -> None:
        self.transport = HttpxWebhookTransport(timeout)
        self.clock = clock

    def send(self, message: OtpMessage) -> AttemptResult:
        request = build_webhook_request(message, timestamp=int(self.clock.now().timestamp()))
        response = self.transport.post(request.url, request.body, request.headers)
        return classify_response(response, self.clock.now())

    def close(self) -> None:
        self.transport.close()


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
        except httpx.LocalProtocolError as error:
            # Its message quotes the offending header, value included.
            return WebhookResponse(
                None, error=f"{type(error).__name__}: {_UNSENDABLE}", permanent=True
            )
        except _PERMANENT_ERRORS as error:
            return WebhookResponse(None, error=_describe(error, url, headers), permanent=True)
        except httpx.HTTPError as error:
            return WebhookResponse(None, error=_describe(error, url, headers))
        except (UnicodeError, ValueError) as error:
            return WebhookResponse(
                None, error=f"{type(error).__name__}: {_UNSENDABLE}", permanent=True
            )

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _describe(error: Exception, url: str, headers: Mapping[str, str]) -> str:
    """The error's kind and message, without the URL (its query may carry a token), its
    query alone, or any header value (signatures, the custom auth header)."""
    message = str(error).replace(url, "<endpoint>") if url else str(error)
    query = urlsplit(url).query
    hidden = [value for value in headers.values() if len(value) >= _MIN_HIDDEN_LENGTH]
    return redact(f"{type(error).__name__}: {message}", [query, *hidden])[:300]


# Shorter header values (application/json, a timestamp's digits) say nothing secret and
# would blank out ordinary words of the message.
_MIN_HIDDEN_LENGTH = 6
