"""Bounded request loads against the real processes, with what each answer was and when."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

OTP_REQUEST_PATH = "/v1/password/onetimepassword"


@dataclass(frozen=True)
class Answer:
    key: str  # what the request was about (a username, a round number)
    status: int  # 0 when the connection itself failed
    headers: dict[str, str]
    body: bytes
    started: float  # time.monotonic()
    finished: float

    @property
    def elapsed(self) -> float:
        return self.finished - self.started


Send = Callable[[httpx.Client], httpx.Response]


class Load:
    """Keep-alive HTTP clients shared by a bounded number of threads."""

    def __init__(self, base_url: str, *, concurrency: int = 8, timeout: float = 30) -> None:
        self.base_url = base_url
        self.concurrency = concurrency
        self._clients: queue.Queue[httpx.Client] = queue.Queue()
        # Idle connections are dropped before gunicorn's 2 s keep-alive would close them,
        # or a request sent as the server hangs up fails for the client's reasons.
        limits = httpx.Limits(keepalive_expiry=1.0)
        for _ in range(concurrency):
            self._clients.put(httpx.Client(base_url=base_url, timeout=timeout, limits=limits))

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *_exc: object) -> None:
        while not self._clients.empty():
            self._clients.get_nowait().close()

    def call(self, key: str, send: Send) -> Answer:
        client = self._clients.get()
        started = time.monotonic()
        try:
            response = send(client)
            status, headers, body = response.status_code, dict(response.headers), response.content
        except httpx.TransportError as error:
            status, headers, body = 0, {}, repr(error).encode()
        finally:
            self._clients.put(client)
        return Answer(key, status, headers, body, started, time.monotonic())

    def run(self, keyed: list[tuple[str, Send]]) -> list[Answer]:
        """Every request on ``concurrency`` threads; answers in the given order."""
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda item: self.call(*item), keyed))

    def race(self, keyed: list[tuple[str, Send]]) -> list[Answer]:
        """Every request on its own thread, released together by a barrier."""
        assert len(keyed) <= self.concurrency
        barrier = threading.Barrier(len(keyed))

        def go(item: tuple[str, Send]) -> Answer:
            barrier.wait(timeout=30)
            return self.call(*item)

        with ThreadPoolExecutor(max_workers=len(keyed)) as pool:
            return list(pool.map(go, keyed))

    def paced(
        self, make: Callable[[int], tuple[str, Send]], *, rate: float, duration: float
    ) -> Iterator[Answer]:
        """Submit ``make(n)`` about ``rate`` times a second for ``duration`` seconds."""
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = []
            began = time.monotonic()
            n = 0
            while time.monotonic() - began < duration:
                futures.append(pool.submit(self.call, *make(n)))
                n += 1
                time.sleep(max(0.0, began + n / rate - time.monotonic()))
            for future in futures:
                yield future.result()


def error_code(answer: Answer) -> str:
    """The contract's ErrorCode, or what came back instead (a status, a transport error)."""
    if answer.status == 200:
        return "ok"
    try:
        return str(json.loads(answer.body)["Errors"][0]["ErrorCode"])
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {answer.status}: {answer.body[:120]!r}"


def otp_request(body: dict[str, Any]) -> Send:
    return lambda client: client.post(OTP_REQUEST_PATH, json=body)


def token_request(form: dict[str, str]) -> Send:
    return lambda client: client.post("/oauth/token", data=form)
