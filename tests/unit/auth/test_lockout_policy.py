from __future__ import annotations

from core.auth.lockout import LockoutPolicy
from core.models import SecurityProfile


def _profile(config: dict[str, object]) -> SecurityProfile:
    return SecurityProfile(id="p", roles=[], password_config=config)


def test_without_profiles_or_config_the_defaults_are_ten_attempts_and_two_minutes() -> None:
    assert LockoutPolicy.from_profiles([]) == LockoutPolicy(10, 2)
    assert LockoutPolicy.from_profiles([_profile({})]) == LockoutPolicy(10, 2)


def test_the_profile_allowing_fewest_attempts_wins() -> None:
    profiles = [
        _profile({"AllowedFailedAttempts": 8, "LockoutDuration": 30}),
        _profile({"AllowedFailedAttempts": 3, "LockoutDuration": 1}),
    ]
    assert LockoutPolicy.from_profiles(profiles) == LockoutPolicy(3, 1)


def test_on_equal_attempts_the_longer_lock_wins_and_zero_means_indefinite() -> None:
    profiles = [
        _profile({"AllowedFailedAttempts": 5, "LockoutDuration": 15}),
        _profile({"AllowedFailedAttempts": 5, "LockoutDuration": 0}),
        _profile({"AllowedFailedAttempts": 5, "LockoutDuration": 60}),
    ]
    assert LockoutPolicy.from_profiles(profiles) == LockoutPolicy(5, 0)


def test_unusable_values_fall_back_to_the_defaults() -> None:
    config = {"AllowedFailedAttempts": "three", "LockoutDuration": -4}
    assert LockoutPolicy.from_password_config(config) == LockoutPolicy(10, 2)
    assert LockoutPolicy.from_password_config({"AllowedFailedAttempts": True}) == (
        LockoutPolicy(10, 2)
    )
