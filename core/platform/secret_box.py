"""Secrets at rest: what senders sign and log in with is stored encrypted (Fernet).

SharedKeys, delivery targets' Secrets, custom auth header values and SMTP passwords are
sealed with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key
derived from each entry of ``OTP_ENCRYPTION_KEYS``, or from ``OTP_SECRET_KEY`` when that
is unset. Rotation: new writes use the first key, reads try every key, and
``otp reencrypt-secrets`` rewrites every secret under the first one; then the old key
can be dropped. docs/hostile-input.md has the procedure.

The column types in :mod:`core.models.secrets` seal and open values as rows are written
and read, through the process's box (:func:`install_secret_box`, done by ``Runtime``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.platform.errors import SettingsError

SEALED_PREFIX = "enc:v1:"
NO_KEY_OPENS_IT = (
    "a stored secret opens with none of the configured keys "
    "(OTP_ENCRYPTION_KEYS must keep the old key until otp reencrypt-secrets ran)"
)
_KEY_INFO = b"otp-service secrets at rest v1"


class UnreadableSecret(Exception):
    """A sealed value that no configured key opens (a key was dropped too early)."""


def derive_fernet_key(material: bytes) -> bytes:
    """A Fernet key from any key material (HKDF-SHA256, fixed context, no salt)."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(material)
    return base64.urlsafe_b64encode(raw)


class SecretBox:
    """Seals under the first key, opens with any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise SettingsError("OTP_SECRET_KEY or OTP_ENCRYPTION_KEYS is required")
        self.keys = tuple(keys)
        self._fernet = MultiFernet([Fernet(derive_fernet_key(key)) for key in self.keys])

    def seal(self, plaintext: str) -> str:
        if is_sealed(plaintext):
            return plaintext  # already sealed (a value read raw and written back)
        return SEALED_PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, stored: str) -> str:
        """The plaintext; a value stored before encryption existed is returned as it is."""
        if not is_sealed(stored):
            return stored
        try:
            return self._fernet.decrypt(stored[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise UnreadableSecret(NO_KEY_OPENS_IT) from None

    def open_or_keep(self, stored: str) -> str:
        """The plaintext, or the sealed value itself when no key opens it.

        Rows stay readable (a fan-out needs the sender, not its key); whatever would use
        the secret sees it is still sealed (:func:`is_sealed`) and fails for that reason.
        """
        try:
            return self.open(stored)
        except UnreadableSecret:
            return stored

    def reseal(self, stored: str) -> str:
        """The same secret sealed under the first key."""
        return self.seal(self.open(stored))

    def with_keys_first(self, keys: Sequence[bytes]) -> SecretBox:
        """A box writing with ``keys``, still reading what this one could."""
        return SecretBox([*keys, *(key for key in self.keys if key not in keys)])


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


_installed: SecretBox | None = None


def install_secret_box(keys: Sequence[bytes]) -> SecretBox:
    """Make ``keys`` the process's keys for secrets at rest (the first one writes).

    Keys installed before stay readable: several runtimes in one process (tests) can
    each have their own key.
    """
    global _installed  # noqa: PLW0603 - one box per process, as there is one database
    _installed = SecretBox(keys) if _installed is None else _installed.with_keys_first(keys)
    return _installed


def secret_box() -> SecretBox:
    if _installed is None:
        raise SettingsError("OTP_SECRET_KEY or OTP_ENCRYPTION_KEYS is required to store secrets")
    return _installed
