"""Log lines as JSON objects (production) or text (dev), configured once per process.

Every record carries ``correlation_id`` (``core.platform.correlation``), and, during an HTTP
request whose caller sent a valid ``X-Request-Id``, ``caller_request_id``. Extra fields whose name
says they hold a secret (password, code, otp, shared key, token, authorization...) are
replaced by ``[redacted]`` before any formatter sees them: a last line of defence, not a
licence to log secrets. The code paths themselves never pass such values.

The HTTP servers log off-thread (``configure_logging(..., background=True)``): a request
thread stamps the ids, redacts and renders the message, then queues the record; one
thread per process formats and writes the lines, so request threads never wait on the
stream or on each other (stdlib ``QueueHandler`` / ``QueueListener``). The writer thread is
started again in every forked child (gunicorn workers) and drains the queue at exit.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import sys
import time
from functools import lru_cache
from logging.handlers import QueueHandler, QueueListener
from queue import SimpleQueue
from typing import Any

from core.platform.correlation import current_caller_request_id, current_correlation_id
from core.platform.settings import LogFormat

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
REDACTED = "[redacted]"
# Anchored so that ``otp_id``, ``status_code`` or ``token_type`` stay readable.
_SECRET_FIELD = re.compile(
    r"^(code|otp|otp_code)$|(password|passwd|secret|shared_?key|token|authorization|cookie)$",
    re.IGNORECASE,
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id`` (and ``caller_request_id``) to every record and redacts
    secret-named extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current_correlation_id() or "-"
        caller_request_id = current_caller_request_id()
        if caller_request_id is not None and not hasattr(record, "caller_request_id"):
            record.caller_request_id = caller_request_id
        for key in [key for key in record.__dict__ if _names_a_secret(key)]:
            record.__dict__[key] = REDACTED
        return True


@lru_cache(maxsize=1024)
def _names_a_secret(key: str) -> bool:
    """Whether an extra field of this name is redacted (field names are few and fixed in
    code, so each is checked once)."""
    return key not in _RESERVED and key != "correlation_id" and bool(_SECRET_FIELD.search(key))


_ENCODER = json.JSONEncoder(default=str)


def utc_timestamp(created: float) -> str:
    """``2026-11-27T10:03:01.123+00:00``: ISO 8601, UTC, milliseconds."""
    seconds = int(created)
    prefix = _SECOND_PREFIX.get(seconds)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _SECOND_PREFIX.clear()  # one entry: lines come in time order
        _SECOND_PREFIX[seconds] = prefix
    return f"{prefix}.{int((created - seconds) * 1000):03d}+00:00"


_SECOND_PREFIX: dict[int, str] = {}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return _ENCODER.encode(entry)


def build_log_handler(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    """A stream handler (stderr by default) with the correlation filter and the format."""
    handler = _stream_handler(log_format, stream)
    handler.addFilter(CorrelationFilter())
    return handler


def _stream_handler(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


# Libraries that log routine work at INFO: httpx writes every request's full URL (a
# webhook URL may carry a token in its query), pika narrates each connection and channel.
# Their warnings and errors still show.
QUIET_LIBRARIES = ("httpx", "httpcore", "pika")


def configure_logging(
    log_format: LogFormat,
    level: int = logging.INFO,
    *,
    background: bool = False,
    stream: Any = None,
) -> None:
    """Log to ``stream`` (stderr) from the calling thread, or, with ``background``, from
    one writer thread per process."""
    while _BACKGROUND_WRITERS:
        _BACKGROUND_WRITERS.pop().stop()
    root = logging.getLogger()
    if background:
        # No format here or in gunicorn's shows the caller's file and line: skip finding
        # them for every record (an optimisation the logging HOWTO lists).
        logging._srcfile = None
        writer = BackgroundLogWriter(_stream_handler(log_format, stream))
        _BACKGROUND_WRITERS.append(writer)
        root.handlers[:] = [writer.handler]
    else:
        root.handlers[:] = [build_log_handler(log_format, stream)]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


class _DeferredFormatting(QueueHandler):
    """Queues the record with what must be taken in the emitting thread already taken:
    the correlation ids and redaction (its filter), the message and the traceback text."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # The record is not copied: this is the only handler that sees it.
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        return record


_TRACEBACKS = logging.Formatter()


class BackgroundLogWriter:
    """``handler`` queues records; a listener thread hands them to ``target``."""

    def __init__(self, target: logging.Handler) -> None:
        self.target = target
        self.handler = _DeferredFormatting(SimpleQueue())
        self.handler.addFilter(CorrelationFilter())
        self._listener: QueueListener | None = None
        self.start()

    def start(self) -> None:
        """Start the writer thread (again, in a forked child: threads do not survive a fork)."""
        queue: SimpleQueue[logging.LogRecord] = SimpleQueue()
        self.handler.queue = queue
        self._listener = QueueListener(queue, self.target, respect_handler_level=True)
        self._listener.start()

    def stop(self) -> None:
        """Write what is queued, then stop the thread."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        self.target.flush()


# The writer configure_logging installed (none, or one).
_BACKGROUND_WRITERS: list[BackgroundLogWriter] = []


def _restart_in_child() -> None:
    for writer in _BACKGROUND_WRITERS:
        writer.start()


def _drain_at_exit() -> None:
    for writer in _BACKGROUND_WRITERS:
        writer.stop()


os.register_at_fork(after_in_child=_restart_in_child)
atexit.register(_drain_at_exit)
