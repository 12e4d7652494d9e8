"""Capturing what the process logs, as the production JSON lines, for one test."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from core.platform.logging import build_log_handler


@contextmanager
def capture_json_log(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """Everything any logger emits at ``level`` or above while the block runs."""
    stream = io.StringIO()
    handler = build_log_handler("json", stream)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
