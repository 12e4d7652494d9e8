from __future__ import annotations

from core.passwords import PasswordHasher
from core.settings import Argon2Parameters


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
