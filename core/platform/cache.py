"""The in-process cache of configuration lookups, and how long such lookups are kept.

The api's OTP intake and the fan-out workers both read API clients and OneTimePassword
senders on every request; both keep them in a :class:`TtlCache` for :data:`LOOKUP_TTL`,
so a change made through the admin API takes effect in every process within that time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from core.platform.clock import Clock

# Admin changes must show within 5 s (docs/admin-api.md): 3 s, plus at most
# REFRESH_GRACE while one thread reloads an expired entry, leaves room for a slow lookup.
LOOKUP_TTL = timedelta(seconds=3)
REFRESH_GRACE = timedelta(seconds=1)
# Unknown ClientIDs are cached too (a flood of made-up IDs must not reach the database
# each time), so the cache is bounded: least recently used entries go first.
MAX_CACHED_CLIENTS = 10_000

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A thread-safe, size-bounded map whose entries expire ``ttl`` after they were loaded.

    When an entry expires, the first thread to ask reloads it; until it is done (for at
    most ``refresh_grace``) the other threads keep the expired value instead of all going
    to the database at once.
    """

    def __init__(
        self,
        clock: Clock,
        ttl: timedelta,
        max_entries: int,
        refresh_grace: timedelta = REFRESH_GRACE,
    ) -> None:
        self.clock = clock
        self.ttl = ttl
        self.max_entries = max_entries
        self.refresh_grace = refresh_grace
        self._entries: OrderedDict[K, tuple[datetime, V]] = OrderedDict()
        self._refreshing: set[K] = set()
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        now = self.clock.now()
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                expires_at, value = cached
                if now < expires_at or (
                    key in self._refreshing and now < expires_at + self.refresh_grace
                ):
                    self._entries.move_to_end(key)
                    return value
            self._refreshing.add(key)
        # Loaded outside the lock: a slow query must not stall other keys' hits. Two
        # threads may load the same key at once (a first load, or past the grace); both
        # get a correct answer.
        try:
            value = load()
        finally:
            with self._lock:
                self._refreshing.discard(key)
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
