"""A webhook subscriber on loopback whose answers a test scripts, and that records everything.

Every POST is recorded with its ``webhook-id``, the OTP request it belongs to
(``OcLogIdHeader``), the username and code in ``EventBody`` and whether its Standard
Webhooks signature verifies. The answer comes from a :data:`Policy`: always 2xx, a seeded
share of 500s, or anything a test writes. To make the receiver *unreachable* (connection
refused), put a :class:`~tests.reliability.faults.FaultProxy` in front of it and cut that.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

# (webhook-id, how many times this id was seen before) -> HTTP status to answer
Policy = Callable[[str, int], int]


def always(status: int = 204) -> Policy:
    return lambda _webhook_id, _seen: status


def random_failures(rate: float, *, seed: int = 1, status: int = 500) -> Policy:
    """Answer ``status`` to a seeded ``rate`` share of attempts, 204 to the rest."""
    chooser = random.Random(seed)
    lock = threading.Lock()

    def policy(_webhook_id: str, _seen: int) -> int:
        with lock:
            return status if chooser.random() < rate else 204

    return policy


def new_signing_key() -> str:
    """A ``whsec_`` key, which the service decodes as the Standard Webhooks spec says."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class ReceivedWebhook:
    webhook_id: str
    request_id: str
    username: str
    code: str
    expires_at: str  # EventBody.ExpiresAt, ISO 8601
    status: int
    signature_valid: bool
    received_at: float  # time.monotonic()
    received_wall: float  # time.time(), to compare with ExpiresAt


@dataclass
class WebhookLedger:
    """What the receiver saw; safe to read from the test thread while it runs."""

    attempts: list[ReceivedWebhook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[ReceivedWebhook]:
        with self.lock:
            return list(self.attempts)

    def accepted(self) -> dict[str, list[ReceivedWebhook]]:
        """The 2xx-answered attempts by ``webhook-id`` (more than one = a duplicate)."""
        by_id: dict[str, list[ReceivedWebhook]] = {}
        for attempt in self.snapshot():
            if 200 <= attempt.status < 300:
                by_id.setdefault(attempt.webhook_id, []).append(attempt)
        return by_id

    def accepted_request_ids(self) -> set[str]:
        return {hits[0].request_id for hits in self.accepted().values()}

    def accepted_usernames(self) -> set[str]:
        return {hits[0].username for hits in self.accepted().values()}

    def duplicates(self) -> int:
        """2xx-answered attempts beyond the first for the same ``webhook-id``."""
        return sum(len(hits) - 1 for hits in self.accepted().values())

    def codes_by_username(self) -> dict[str, set[str]]:
        """Every code any attempt carried, per username: one each, or a second was issued."""
        codes: dict[str, set[str]] = {}
        for attempt in self.snapshot():
            codes.setdefault(attempt.username, set()).add(attempt.code)
        return codes

    def codes(self) -> set[str]:
        return {attempt.code for attempt in self.snapshot() if attempt.code}

    def attempts_per_id(self) -> Counter[str]:
        return Counter(attempt.webhook_id for attempt in self.snapshot())

    def wait_for(self, predicate: Callable[[WebhookLedger], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.2)
        return predicate(self)


class _QuietServer(ThreadingHTTPServer):
    """Keeps track of open keep-alive connections so that closing the server closes them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._open_lock:
            still_open, self._open = list(self._open), set()
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def handle_error(self, request: object, client_address: object) -> None:
        """A sender killed mid-request resets its connection; that is the test, not a bug."""


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 answering webhooks by ``policy``."""

    def __init__(self, signing_key: str, policy: Policy | None = None) -> None:
        self.signing_key = signing_key
        self.policy: Policy = policy or always()
        self.ledger = WebhookLedger()
        self._seen: Counter[str] = Counter()
        self._verifier = Webhook(signing_key)
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{{messagetype}}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_open_connections()
        self._thread.join(timeout=5)

    def _record(self, headers: dict[str, str], body: bytes) -> int:
        webhook_id = headers.get("webhook-id", "")
        try:
            self._verifier.verify(body, headers)
            signature_valid = True
        except WebhookVerificationError:
            signature_valid = False
        document: dict[str, Any] = {}
        try:
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                document = loaded
        except ValueError:
            pass
        event = document.get("EventBody") or {}
        with self.ledger.lock:
            seen = self._seen[webhook_id]
            self._seen[webhook_id] += 1
        status = self.policy(webhook_id, seen)
        with self.ledger.lock:
            self.ledger.attempts.append(
                ReceivedWebhook(
                    webhook_id=webhook_id,
                    request_id=str(document.get("OcLogIdHeader") or ""),
                    username=str(event.get("Username") or ""),
                    code=str(event.get("OneTimePassword") or ""),
                    expires_at=str(event.get("ExpiresAt") or ""),
                    status=status,
                    signature_valid=signature_valid,
                    received_at=time.monotonic(),
                    received_wall=time.time(),
                )
            )
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a SIGKILLed worker): no complete request,
                    # so nothing to record or answer, as any HTTP server would treat it.
                    self.close_connection = True
                    return
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = receiver._record(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                """Silent: the ledger is the record (and codes must not reach logs)."""

        return Handler
