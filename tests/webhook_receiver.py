"""A real HTTP webhook receiver on 127.0.0.1 that records requests and answers as scripted."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str:
        code: str = self.json()["EventBody"]["OneTimePassword"]
        return code


@dataclass(frozen=True)
class ScriptedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...] = ()


class WebhookReceiver:
    """Answers the scripted statuses in order, then 200; can hold the next request open."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self._answers: deque[ScriptedAnswer] = deque()
        self._lock = threading.Condition()
        self._hold_next = False
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                answer, hold = receiver._record(self.path, dict(self.headers.items()), body)
                if hold:
                    receiver._release.wait(timeout=120)
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output (and its captured logs) to the system's own lines

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        with self._lock:
            for answer in answers:
                if isinstance(answer, int):
                    self._answers.append(ScriptedAnswer(answer))
                else:
                    status, headers = answer
                    self._answers.append(ScriptedAnswer(status, tuple(headers.items())))

    def hold_next_request(self) -> None:
        """The next request is recorded, then left unanswered until :meth:`release`."""
        with self._lock:
            self._hold_next = True
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def _record(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[ScriptedAnswer, bool]:
        with self._lock:
            self.received.append(
                ReceivedWebhook(path, {k.lower(): v for k, v in headers.items()}, body)
            )
            answer = self._answers.popleft() if self._answers else ScriptedAnswer(200)
            hold, self._hold_next = self._hold_next, False
            self._lock.notify_all()
            return answer, hold

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedWebhook]:
        """At least ``count`` requests, or an AssertionError naming how many came."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} webhooks, got {len(self.received)}")
                self._lock.wait(remaining)
            return list(self.received)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
