"""A TCP proxy on loopback that can be cut and restored: an outage as clients see it.

The real PostgreSQL and RabbitMQ on this machine are shared, so the suite never stops
them. Instead the api, token and worker processes connect through a :class:`FaultProxy`.
``cut()`` closes every live connection (both ends, at once) and closes the listening
socket, so new connections are refused, which is what a client sees while a server
restarts. ``restore()`` listens on the same port again. The proxy runs an asyncio loop
in a daemon thread; the test thread drives it through thread-safe calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from tests.processes import ports_below_ephemeral_range

_CHUNK = 64 * 1024


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``; :meth:`cut` and :meth:`restore` at will."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = ports_below_ephemeral_range(1)[0]
        self.connections_accepted = 0
        self.connections_cut = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- faults ------------------------------------------------------------------------
    @property
    def is_cut(self) -> bool:
        return self._server is None

    def cut(self) -> int:
        """Drop every live connection and refuse new ones; returns how many were dropped."""
        dropped: int = self._call(self._cut())
        return dropped

    def restore(self) -> None:
        """Accept connections again on the same port."""
        self._call(self._listen())

    @contextlib.contextmanager
    def outage(self, seconds: float) -> Iterator[None]:
        """Cut now, run the block, keep the outage at least ``seconds``, then restore."""
        began = time.monotonic()
        self.cut()
        try:
            yield
            remaining = seconds - (time.monotonic() - began)
            if remaining > 0:
                time.sleep(remaining)
        finally:
            self.restore()

    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # -- the loop's side -----------------------------------------------------------------
    def _call(self, coroutine: object) -> object:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # type: ignore[arg-type]
        return future.result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        # The port was just ours; a restarted server may need a moment for TIME_WAIT.
        for _ in range(50):
            try:
                self._server = await asyncio.start_server(
                    self._forward, "127.0.0.1", self.port, reuse_address=True
                )
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"fault proxy could not listen on 127.0.0.1:{self.port} again")

    async def _cut(self) -> int:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        writers = list(self._writers)
        self._writers.clear()
        for writer in writers:
            # abort(): an RST-like close with no lingering flush, as a dying server gives.
            writer.transport.abort()
        self.connections_cut += len(writers) // 2
        if server is not None:
            await server.wait_closed()
        return len(writers) // 2

    async def _forward(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._server is None:
            client.transport.abort()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client.transport.abort()
            return
        self.connections_accepted += 1
        self._writers.update((client, upstream))
        await asyncio.gather(
            self._pipe(client_reader, upstream),
            self._pipe(upstream_reader, client),
            return_exceptions=True,
        )
        self._writers.discard(client)
        self._writers.discard(upstream)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.contextmanager
def proxied(url: str, default_port: int) -> Iterator[tuple[FaultProxy, str]]:
    """A started proxy in front of the server in ``url``, and ``url`` rewritten to use it."""
    parts = urlsplit(url)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or default_port) as proxy:
        yield proxy, proxy.url_for(url)
