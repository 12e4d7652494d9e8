from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from core.platform.cache import TtlCache
from tests.doubles import FrozenClock


class CountingLoader:
    def __init__(self) -> None:
        self.loads = 0

    def __call__(self) -> int:
        self.loads += 1
        return self.loads


def test_a_cached_value_is_reused_until_the_ttl_passes() -> None:
    clock = FrozenClock()
    cache: TtlCache[str, int] = TtlCache(clock, timedelta(seconds=3), max_entries=10)
    load = CountingLoader()

    first = cache.get_or_load("client", load)
    clock.advance(2.9)
    within_ttl = cache.get_or_load("client", load)
    clock.advance(0.2)
    after_ttl = cache.get_or_load("client", load)

    assert (first, within_ttl, after_ttl) == (1, 1, 2)


def test_the_cache_keeps_at_most_max_entries_dropping_the_least_recently_used() -> None:
    cache: TtlCache[str, int] = TtlCache(FrozenClock(), timedelta(seconds=3), max_entries=2)
    load = CountingLoader()
    cache.get_or_load("a", load)
    cache.get_or_load("b", load)
    cache.get_or_load("a", load)  # a is now the most recently used
    cache.get_or_load("c", load)

    assert len(cache) == 2
    assert cache.get_or_load("a", load) == 1
    assert cache.get_or_load("b", load) == 4  # b was evicted and is loaded again


def test_while_one_thread_reloads_an_expired_entry_the_others_keep_the_old_value() -> None:
    clock = FrozenClock()
    cache: TtlCache[str, int] = TtlCache(
        clock, timedelta(seconds=3), max_entries=10, refresh_grace=timedelta(seconds=1)
    )
    cache.get_or_load("senders", lambda: 1)
    clock.advance(3.5)
    reloading, release = threading.Event(), threading.Event()

    def slow_reload() -> int:
        reloading.set()
        release.wait(10)
        return 2

    with ThreadPoolExecutor(max_workers=1) as pool:
        reloaded = pool.submit(cache.get_or_load, "senders", slow_reload)
        assert reloading.wait(10)
        during = cache.get_or_load("senders", CountingLoader())
        clock.advance(0.6)  # past the grace: nobody waits on a reload that long
        past_grace = cache.get_or_load("senders", lambda: 3)
        release.set()
        assert reloaded.result(10) == 2

    assert (during, past_grace) == (1, 3)
