"""Dev mode's console channel: the message is printed where the developer is looking.

This is the one place a code is deliberately written out, so it only ever runs with
``dev_mode`` (the admin API rejects Console targets otherwise, and the fan-out skips them).
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from core.delivery.attempts import AttemptResult, OtpMessage


class ConsoleChannel:
    def __init__(self, stream: TextIO | None = None, *, dev_mode: bool) -> None:
        self._stream = stream
        self._dev_mode = dev_mode
        self._lock = threading.Lock()

    def send(self, message: OtpMessage) -> AttemptResult:
        if not self._dev_mode:
            return AttemptResult.failed("console delivery is for dev mode only")
        stream = self._stream or sys.stdout
        rule = "-" * 60
        with self._lock:
            stream.write(
                f"{rule}\nTo: {message.user.username} <{message.user.email or ''}>\n"
                f"Subject: {message.message.subject}\n\n{message.message.text}\n{rule}\n"
            )
            stream.flush()
        return AttemptResult.delivered()

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
