from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher as Argon2Hasher

from core.identity.passwords import PasswordHasher
from core.platform.settings import Argon2Parameters


def test_a_password_verifies_and_a_wrong_one_does_not() -> None:
    hasher = PasswordHasher(Argon2Parameters())
    stored = hasher.hash("correct horse")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(stored, "correct horse")
    assert not hasher.verify(stored, "wrong horse")


def test_a_missing_hash_never_verifies() -> None:
    hasher = PasswordHasher(Argon2Parameters())
    assert not hasher.verify(None, "anything")
    assert not hasher.verify("not-a-hash", "anything")


def test_a_hash_made_with_other_parameters_needs_rehash() -> None:
    old = PasswordHasher(Argon2Parameters(memory_cost=19456, time_cost=2, parallelism=1))
    new = PasswordHasher(Argon2Parameters(memory_cost=47104, time_cost=1, parallelism=1))
    stored = old.hash("pw")
    assert new.needs_rehash(stored)
    assert not old.needs_rehash(stored)
    assert new.verify(stored, "pw")


def test_however_many_threads_ask_one_hash_per_cpu_runs_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    hasher = PasswordHasher(Argon2Parameters(time_cost=1, memory_cost=8, parallelism=1))
    stored = hasher.hash("pw")
    running, most = 0, 0
    lock = threading.Lock()
    real_verify = Argon2Hasher.verify

    def counting_verify(self: Argon2Hasher, hash: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.01)  # long enough for the other threads to pile up
            return real_verify(self, hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(Argon2Hasher, "verify", counting_verify)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: hasher.verify(stored, "pw"), range(16)))
        burnt = list(pool.map(hasher.burn, ["pw"] * 8))
    assert all(results)
    assert burnt == [None] * 8
    assert most == 2
