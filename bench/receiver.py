"""A fast webhook receiver: asyncio on raw sockets, HTTP/1.1 with keep-alive.

It answers every ``POST`` with ``204`` and records, per message, the moment it arrived
and a correlation key (the recipient's username, found in the body without parsing the
whole JSON document). ``GET /_stats`` returns what it recorded; ``POST /_reset`` forgets
it. The receiver must never be the bottleneck, so :func:`bench.scenarios.receiver`
measures it alone before anything is measured against it.

Run it as ``python -m bench.receiver --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import time
from dataclasses import dataclass, field

# The webhook body carries "Username": "<name>" (Recipient and EventBody); the bench
# pipeline's no-op message carries the same key, so both are correlated the same way.
_USERNAME = re.compile(rb'"Username":\s*"([^"]*)"')
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
_NO_CONTENT_CLOSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass
class Arrivals:
    """What the receiver saw: arrival times by key, and how many messages came."""

    count: int = 0
    first: float | None = None
    last: float | None = None
    by_key: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0

    def record(self, key: str | None, at: float) -> None:
        self.count += 1
        if self.first is None:
            self.first = at
        self.last = at
        if key is None:
            return
        if key in self.by_key:
            self.duplicates += 1
        else:
            self.by_key[key] = at

    def as_json(self) -> bytes:
        return json.dumps(
            {
                "count": self.count,
                "first": self.first,
                "last": self.last,
                "duplicates": self.duplicates,
                "arrivals": self.by_key,
            }
        ).encode()


class Receiver:
    """The HTTP/1.1 server's state: one :class:`Arrivals` for the whole process."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()

    def answer(self, request_line: bytes, body: bytes, at: float, close: bool) -> bytes:
        method, _, rest = request_line.partition(b" ")
        path = rest.partition(b" ")[0]
        if method == b"GET" and path == b"/_stats":
            payload = self.arrivals.as_json()
            return (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
            )
        if method == b"POST" and path == b"/_reset":
            self.arrivals = Arrivals()
        elif method == b"POST":
            match = _USERNAME.search(body)
            self.arrivals.record(match.group(1).decode() if match else None, at)
        return _NO_CONTENT_CLOSE if close else _NO_CONTENT


class Connection(asyncio.Protocol):
    """One kept-alive connection: parses pipelined requests out of a byte buffer."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            request_line, _, header_block = head.partition(b"\r\n")
            length = 0
            close = False
            for line in header_block.split(b"\r\n"):
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value.strip())
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(self.receiver.answer(request_line, body, time.time(), close))
            if close:
                self.transport.close()
                self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, ready: asyncio.Event | None = None) -> None:
    receiver = Receiver()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(receiver), host, port, backlog=1024)
    async with server:
        if ready is not None:
            ready.set()
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="fast webhook receiver for the benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
