from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from core.auth.tokens import TokenKeys
from core.platform.errors import SettingsError, Unauthorized
from core.platform.settings import Settings


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


KEYS = {
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "EdDSA"])
def test_a_token_verifies_with_the_jwks_document_alone(algorithm: str) -> None:
    keys = TokenKeys(Settings(jwt_private_key=_pem(KEYS[algorithm]()), jwt_algorithm=algorithm))  # type: ignore[arg-type]
    now = datetime.now(UTC)
    token = keys.issue_access_token(
        username="alice",
        user_id="alice-id",
        token_version=0,
        client_id="C1",
        user_type="buyer",
        roles=["Shopper"],
        token_id="t1",
        now=now,
        lifetime=timedelta(minutes=10),
    )
    jwk = jwt.PyJWKSet.from_dict(keys.jwks())[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, jwk, algorithms=[algorithm], audience="otp-service")
    assert (claims["usr"], claims["cid"], claims["usrtype"], claims["role"]) == (
        "alice",
        "C1",
        "buyer",
        ["Shopper"],
    )
    assert keys.verify(token).username == "alice"


def test_a_key_of_the_wrong_type_for_the_algorithm_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="OTP_JWT_ALGORITHM"):
        TokenKeys(Settings(jwt_private_key=_pem(KEYS["ES256"]()), jwt_algorithm="RS256"))


def test_expired_and_foreign_tokens_are_refused() -> None:
    keys = TokenKeys(Settings(jwt_private_key=_pem(KEYS["ES256"]())))
    other = TokenKeys(Settings(jwt_private_key=_pem(KEYS["ES256"]())))
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    expired = keys.issue_access_token(
        username="a",
        user_id="a-id",
        token_version=0,
        client_id="c",
        user_type="admin",
        roles=[],
        token_id="t",
        now=long_ago,
        lifetime=timedelta(minutes=1),
    )
    with pytest.raises(Unauthorized, match="expired"):
        keys.verify(expired)
    foreign = other.issue_access_token(
        username="a",
        user_id="a-id",
        token_version=0,
        client_id="c",
        user_type="admin",
        roles=[],
        token_id="t",
        now=datetime.now(UTC),
        lifetime=timedelta(minutes=1),
    )
    with pytest.raises(Unauthorized):
        keys.verify(foreign)
    with pytest.raises(Unauthorized):
        keys.verify("not.a.token")
