from __future__ import annotations

import pytest

from core.otp.ip_rate_limit import IpRateLimiter
from core.platform.errors import TooManyRequests
from core.platform.settings import RateLimit
from tests.doubles import FrozenClock


def test_the_request_past_the_limit_is_refused_with_the_seconds_left_in_the_window() -> None:
    clock = FrozenClock()
    limiter = IpRateLimiter(RateLimit(count=2, period=60), clock)
    limiter.check("203.0.113.1")
    clock.advance(10.5)
    limiter.check("203.0.113.1")

    with pytest.raises(TooManyRequests) as refused:
        limiter.check("203.0.113.1")

    assert refused.value.retry_after == 50


def test_each_ip_has_its_own_count() -> None:
    limiter = IpRateLimiter(RateLimit(count=1, period=60), FrozenClock())
    limiter.check("203.0.113.1")
    limiter.check("203.0.113.2")
    with pytest.raises(TooManyRequests):
        limiter.check("203.0.113.1")


def test_a_new_window_opens_once_the_period_has_passed() -> None:
    clock = FrozenClock()
    limiter = IpRateLimiter(RateLimit(count=1, period=60), clock)
    limiter.check("203.0.113.1")
    clock.advance(60)
    limiter.check("203.0.113.1")
    with pytest.raises(TooManyRequests):
        limiter.check("203.0.113.1")


def test_a_limit_of_zero_never_refuses_and_remembers_nothing() -> None:
    limiter = IpRateLimiter(RateLimit(count=0, period=60), FrozenClock())
    for _ in range(1000):
        limiter.check("203.0.113.1")
    assert limiter.tracked_ips() == 0


def test_memory_is_bounded_by_forgetting_the_least_recently_seen_ips() -> None:
    limiter = IpRateLimiter(RateLimit(count=1, period=60), FrozenClock(), max_tracked_ips=3)
    limiter.check("10.0.0.1")
    for n in range(2, 50):
        limiter.check(f"10.0.1.{n}")

    assert limiter.tracked_ips() == 3
    limiter.check("10.0.0.1")  # forgotten, so counted afresh
