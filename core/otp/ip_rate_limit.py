"""Per-client-IP request limit for the public OTP endpoint (``OTP_IP_RATE_LIMIT``).

Each api process counts on its own (docs/http-api.md: "per api process"), so N processes allow up
to N times the limit; the per-user throttle in the fan-out worker is the real bound on
messages. Memory is bounded: at most ``max_tracked_ips`` addresses are remembered, the
least recently seen are forgotten first.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.platform.clock import Clock
from core.platform.errors import TooManyRequests
from core.platform.settings import RateLimit

MAX_TRACKED_IPS = 100_000


@dataclass
class _Window:
    started_at: datetime
    count: int


class IpRateLimiter:
    """A fixed window per IP, opened by the IP's first request: ``count`` per ``period``."""

    def __init__(
        self, limit: RateLimit, clock: Clock, *, max_tracked_ips: int = MAX_TRACKED_IPS
    ) -> None:
        self.limit = limit
        self.clock = clock
        self.period = timedelta(seconds=limit.period)
        self.max_tracked_ips = max_tracked_ips
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client_ip: str) -> None:
        """Count one request from ``client_ip``; raise TooManyRequests past the limit."""
        if not self.limit.enabled:
            return
        now = self.clock.now()
        with self._lock:
            window = self._windows.get(client_ip)
            if window is None or now >= window.started_at + self.period:
                window = _Window(started_at=now, count=0)
                self._windows[client_ip] = window
            self._windows.move_to_end(client_ip)
            self._forget_oldest()
            if window.count >= self.limit.count:
                remaining = (window.started_at + self.period - now).total_seconds()
                raise TooManyRequests(retry_after=max(1, math.ceil(remaining)))
            window.count += 1

    def _forget_oldest(self) -> None:
        while len(self._windows) > self.max_tracked_ips:
            self._windows.popitem(last=False)

    def tracked_ips(self) -> int:
        return len(self._windows)
