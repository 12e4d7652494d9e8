"""argon2id password hashing with parameters from ``OTP_PASSWORD_HASH``.

At most one hash or verification per CPU runs at a time in a process: each holds
``memory_cost`` KiB (19 MiB at the defaults) while it runs, and more of them at once than
there are cores only share the cores and multiply the memory.
"""

from __future__ import annotations

import os
import secrets
import threading

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import Argon2Parameters


class PasswordHasher:
    """Hash, verify and tell when a stored hash needs upgrading to current parameters."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = Argon2Hasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        self._running = threading.BoundedSemaphore(os.cpu_count() or 1)
        # Verifying against this when the user does not exist costs the same as a real
        # check, so response time does not tell whether a username exists.
        self._dummy_hash = self.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        with self._running:
            return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash still costs one verification."""
        try:
            with self._running:
                matched = self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and bool(stored_hash)

    def burn(self, password: str) -> None:
        """Spend one verification's work for a user that does not exist."""
        self.verify(None, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
