"""A loopback TCP proxy that a test can close and reopen: a broker outage without
stopping the shared RabbitMQ."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

from tests.processes import ports_below_ephemeral_range

_POLL_SECONDS = 0.1


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; :meth:`close` refuses new connections
    and cuts the open ones, :meth:`open` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        # Below the ephemeral range: no outgoing connection takes it while the proxy is shut.
        self.port = ports_below_ephemeral_range(1)[0]
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._accepting: threading.Thread | None = None
        self._open_sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.accepted = 0  # connections accepted so far

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(_POLL_SECONDS)
        self._listener = listener
        self._stop.clear()
        self._accepting = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        self._stop.set()
        if self._accepting is not None:
            self._accepting.join()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.cut_connections()

    @property
    def open_connections(self) -> int:
        """Sockets currently forwarded (two per client connection: its side and upstream)."""
        with self._lock:
            return len(self._open_sockets)

    def cut_connections(self) -> None:
        """Drop every open connection (as RabbitMQ does to a client that missed heartbeats)
        while still accepting new ones."""
        with self._lock:
            sockets = list(self._open_sockets)
            self._open_sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def url_for(self, broker_url: str) -> str:
        """``broker_url`` with its host and port replaced by this proxy's."""
        parts = urlsplit(broker_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _accept_loop(self) -> None:
        assert self._listener is not None
        listener = self._listener
        while not self._stop.is_set():
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            downstream.settimeout(None)
            self.accepted += 1
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                downstream.close()
                continue
            with self._lock:
                self._open_sockets.update((downstream, upstream))
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def proxy_to(broker_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(broker_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    proxy.open()
    try:
        yield proxy
    finally:
        proxy.close()
