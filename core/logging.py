"""Log lines as JSON objects (production) or text (dev), configured once per process.

Every record carries ``correlation_id`` (``core.correlation``), and, during an HTTP
request whose caller sent a valid ``X-Request-Id``, ``caller_request_id``. Extra fields whose name
says they hold a secret (password, code, otp, shared key, token, authorization...) are
replaced by ``[redacted]`` before any formatter sees them: a last line of defence, not a
licence to log secrets. The code paths themselves never pass such values.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from core.correlation import current_caller_request_id, current_correlation_id
from core.settings import LogFormat

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
        for key in list(record.__dict__):
            if key not in _RESERVED and key != "correlation_id" and _SECRET_FIELD.search(key):
                record.__dict__[key] = REDACTED
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def build_log_handler(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    """A stream handler (stderr by default) with the correlation filter and the format."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(CorrelationFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(log_format: LogFormat, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.handlers[:] = [build_log_handler(log_format)]
    root.setLevel(level)
