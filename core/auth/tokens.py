"""Signed JWT access tokens and the JWKS document that verifies them."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.types import Options

from core.platform.errors import SettingsError, Unauthorized
from core.platform.settings import JwtAlgorithm, Settings

_KEY_TYPES: dict[str, tuple[type[Any], ...]] = {
    "ES256": (ec.EllipticCurvePrivateKey,),
    "RS256": (rsa.RSAPrivateKey,),
    "EdDSA": (ed25519.Ed25519PrivateKey,),
}
_JWK_FIELDS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says.

    ``user_id`` (claim ``u``, as OrderCloud's tokens carry it) names the user for good:
    usernames can be reused after a delete. ``token_version`` (claim ``tv``) is the user's
    session generation when the token was issued; revocation raises it.
    """

    username: str
    user_id: str
    token_version: int
    client_id: str
    user_type: str  # "admin" | "buyer"
    roles: tuple[str, ...]
    token_id: str
    expires_at: datetime
    raw: dict[str, Any]
    issued_at: datetime | None = None


class TokenKeys:
    """The signing key from ``OTP_JWT_PRIVATE_KEY``, its public JWK and key id."""

    def __init__(self, settings: Settings) -> None:
        settings.require("jwt_private_key")
        assert settings.jwt_private_key is not None
        try:
            key = load_pem_private_key(settings.jwt_private_key.encode(), password=None)
        except (ValueError, TypeError):
            raise SettingsError("OTP_JWT_PRIVATE_KEY is not a readable PEM private key") from None
        if not isinstance(key, _KEY_TYPES[settings.jwt_algorithm]):
            raise SettingsError(
                f"OTP_JWT_PRIVATE_KEY does not match OTP_JWT_ALGORITHM={settings.jwt_algorithm}"
            )
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name != "secp256r1":
            raise SettingsError("OTP_JWT_PRIVATE_KEY: ES256 needs a P-256 key")
        self.algorithm: JwtAlgorithm = settings.jwt_algorithm
        self.issuer = settings.issuer
        self.audience = settings.audience
        self._private_key = key
        self._public_key = key.public_key()
        self.public_jwk = _public_jwk(self._public_key)
        self.key_id = _thumbprint(self.public_jwk)
        self.public_jwk.update({"kid": self.key_id, "alg": self.algorithm, "use": "sig"})

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self._private_key, algorithm=self.algorithm, headers={"kid": self.key_id}
        )

    def issue_access_token(
        self,
        *,
        username: str,
        user_id: str,
        token_version: int,
        client_id: str,
        user_type: str,
        roles: list[str],
        token_id: str,
        now: datetime,
        lifetime: timedelta,
    ) -> str:
        return self.sign(
            {
                "usr": username,
                "u": user_id,
                "tv": token_version,
                "cid": client_id,
                "usrtype": user_type,
                "role": roles,
                "iss": self.issuer,
                "aud": self.audience,
                "iat": int(now.timestamp()),
                "nbf": int(now.timestamp()),
                "exp": int((now + lifetime).timestamp()),
                "jti": token_id,
            }
        )

    def verify(self, token: str, *, now: datetime | None = None) -> AccessClaims:
        """Check signature, expiry, issuer and audience; :class:`Unauthorized` otherwise."""
        options: Options = {"require": ["exp", "iss", "aud", "usr", "u", "cid", "jti"]}
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.key_id:
                raise Unauthorized("The token was not signed by this service's key.")
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options=options,
                leeway=timedelta(seconds=5),
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(f"Invalid token: {error}") from None
        if now is not None and claims["exp"] < now.timestamp():
            raise Unauthorized("Invalid token: Signature has expired")
        roles = claims.get("role") or []
        version = claims.get("tv", 0)
        if isinstance(version, bool) or not isinstance(version, int):
            raise Unauthorized("Invalid token: tv is not a whole number")
        return AccessClaims(
            username=str(claims["usr"]),
            user_id=str(claims["u"]),
            token_version=version,
            client_id=str(claims["cid"]),
            user_type=str(claims.get("usrtype", "")),
            roles=tuple(str(role) for role in (roles if isinstance(roles, list) else [roles])),
            token_id=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
            raw=claims,
            issued_at=_moment(claims.get("iat")),
        )


def _moment(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)


def _public_jwk(public_key: Any) -> dict[str, Any]:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    elif isinstance(public_key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    return dict(jwk)


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a stable key id derived from the public key."""
    required = {name: jwk[name] for name in _JWK_FIELDS[jwk["kty"]]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
