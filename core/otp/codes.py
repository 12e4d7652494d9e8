"""OTP codes: derived from a row's random nonce, verified through a keyed lookup hash.

The plaintext code is never stored, queued or logged. The delivery actor derives it
from the OTP row's nonce with HMAC-SHA256 under ``OTP_SECRET_KEY`` (so a retried delivery
resends the same code); the token handler recomputes the lookup hash from what the user
typed, bound to that user and client, and finds the row by it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NONCE_BYTES = 32
_CODE_LABEL = b"otp-code\x00"
_LOOKUP_LABEL = b"otp-lookup\x00"


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def derive_code(secret_key: bytes, nonce: bytes, length: int) -> str:
    """The ``length``-digit code for a nonce (64 bits of HMAC reduced: bias < 1e-7)."""
    digest = hmac.new(secret_key, _CODE_LABEL + nonce, hashlib.sha256).digest()
    value = int.from_bytes(digest[:8], "big") % (10**length)
    return str(value).zfill(length)


def lookup_hash(secret_key: bytes, *, user_id: str, client_id: str, code: str) -> bytes:
    """The keyed hash stored on the OTP row; binds the code to one user and one client."""
    message = b"\x00".join((_LOOKUP_LABEL, user_id.encode(), client_id.encode(), code.encode()))
    return hmac.new(secret_key, message, hashlib.sha256).digest()


def looks_like_code(candidate: str, length: int) -> bool:
    """Whether a submitted password has the shape of an OTP (saves a lookup otherwise)."""
    return len(candidate) == length and candidate.isascii() and candidate.isdigit()
