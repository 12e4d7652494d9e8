"""The webhook channel: signed POSTs over one pooled ``httpx.Client`` per worker process.

What is sent and what an answer means come from ``core.delivery.webhooks``; this module
only talks HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import httpcore
import httpx

from core.delivery.address_policy import AddressPolicy, BlockedDestination
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

    def __init__(self, timeout: float, clock: Clock, policy: AddressPolicy | None = None) -> None:
        self.transport = HttpxWebhookTransport(timeout, policy)
        self.clock = clock

    def send(self, message: OtpMessage) -> AttemptResult:
        request = build_webhook_request(message, timestamp=int(self.clock.now().timestamp()))
        response = self.transport.post(request.url, request.body, request.headers)
        return classify_response(response, self.clock.now())

    def close(self) -> None:
        self.transport.close()


class PolicedNetworkBackend(httpcore.SyncBackend):
    """Resolves the host itself and connects to an address the policy allows.

    TLS still verifies the certificate against the URL's host name (httpcore passes it
    separately), so connecting by address changes nothing else.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            address = self.policy.resolve(host, port)
        except OSError as error:  # the name does not resolve: as httpcore reports it
            raise httpcore.ConnectError(str(error)) from error
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class PolicedTransport(httpx.HTTPTransport):
    """httpx's own transport, its connection pool on :class:`PolicedNetworkBackend`."""

    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=PolicedNetworkBackend(policy),
        )


class HttpxWebhookTransport:
    """POSTs webhooks; the client is created on first use, so after a worker fork.

    Connections go only to addresses ``policy`` allows (``OTP_BLOCKED_TARGET_NETWORKS``).
    Proxies from the environment are not used: through one, the policy could not see the
    address connected to.
    """

    def __init__(self, timeout: float, policy: AddressPolicy | None = None) -> None:
        self._timeout = timeout
        self._policy = policy or AddressPolicy()
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self._timeout,
                    transport=PolicedTransport(self._policy),
                    trust_env=False,
                    follow_redirects=False,
                    headers={"User-Agent": "otp-service-webhooks/1"},
                )
            return self._client

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        try:
            # Streamed and closed unread: a receiver's answer body is never needed or kept.
            with self.client.stream("POST", url, content=body, headers=dict(headers)) as answer:
                return WebhookResponse(answer.status_code, answer.headers.get("Retry-After"))
        except BlockedDestination as error:
            return WebhookResponse(None, error=str(error), permanent=True)
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
