"""argon2id password hashing with parameters from ``OTP_PASSWORD_HASH``.

Hashes and verifications run on a pool of one thread per CPU, never on the request
threads: each holds ``memory_cost`` KiB (19 MiB at the defaults) while it runs, more of
them at once than there are cores would only share the cores, and the C allocator keeps
that block around in every thread that ever ran one (16 request threads would keep
16 x 19 MiB; the pool keeps one per CPU).
"""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from core.platform.settings import Argon2Parameters


class PasswordHasher:
    """Hash, verify and tell when a stored hash needs upgrading to current parameters."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self._hasher = Argon2Hasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        # Its threads start with the first hash or verification (none runs here), so a
        # server that builds the app and then forks gives every child threads of its own.
        self._pool = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="argon2")
        # Verifying against this when the user does not exist costs the same as a real
        # check, so response time does not tell whether a username exists.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._pool.submit(self._hasher.hash, password).result()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash still costs one verification."""
        try:
            verifying = self._pool.submit(
                self._hasher.verify, stored_hash or self._dummy_hash, password
            )
            matched = verifying.result()
        except (VerificationError, InvalidHashError):
            return False
        return matched and bool(stored_hash)

    def burn(self, password: str) -> None:
        """Spend one verification's work for a user that does not exist."""
        self.verify(None, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
