"""Every ``OTP_*`` setting, read once from the environment, typed and checked."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.platform.errors import SettingsError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# OTP_BLOCKED_TARGET_NETWORKS unset: loopback, link-local (cloud metadata at
# 169.254.169.254 included), unspecified and multicast, IPv4 and IPv6. Private (RFC 1918)
# ranges stay allowed: subscribers inside the marketplace's own network are common.
DEFAULT_BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "::1/128",
        "fe80::/10",
        "::/128",
        "ff00::/8",
    )
)

JwtAlgorithm = Literal["ES256", "RS256", "EdDSA"]
LogFormat = Literal["json", "text"]
QueueType = Literal["classic", "quorum"]
# OTP_DATABASE_PRE_PING: when the pool checks a connection with a round trip (db.py).
PrePing = Literal["idle", "on", "off"]

# OWASP's argon2id minimums: the memory (KiB) each iteration count needs at least.
_OWASP_MIN_MEMORY_BY_TIME = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Argon2Parameters:
    """argon2id cost: memory in KiB, iterations, lanes."""

    memory_cost: int = 19456
    time_cost: int = 2
    parallelism: int = 1


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` events per ``period`` seconds; ``count == 0`` turns the limit off."""

    count: int
    period: int

    @property
    def enabled(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class Settings:
    """The service's configuration. Build it with :func:`load_settings`."""

    database_url: str | None = None
    broker_url: str | None = None
    # RabbitMQ queue type of every OTP queue and its .DQ/.XQ (docs/past-one-machine.md).
    broker_queue_type: QueueType = "classic"
    # off behind PgBouncer < 1.21 in transaction mode: psycopg prepares no statements.
    database_prepared_statements: bool = True
    # When a pooled connection is checked with a round trip before use (db.py).
    database_pre_ping: PrePing = "idle"
    secret_key: bytes | None = None
    jwt_private_key: str | None = None
    jwt_algorithm: JwtAlgorithm = "ES256"
    issuer: str = "otp-service"
    audience: str = "otp-service"
    password_hash: Argon2Parameters = field(default_factory=Argon2Parameters)
    otp_lifetime: int = 600
    otp_length: int = 8
    otp_max_per_user: int = 5
    otp_throttle_window: int = 900
    otp_max_failed_attempts: int = 5
    ip_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(120, 60))
    trusted_proxies: int = 0
    environment: str = "Production"
    webhook_timeout: float = 5.0
    log_format: LogFormat = "json"
    audit_retention: int = 30 * 86400
    worker_metrics_port: int = 9191
    blocked_target_networks: tuple[IPNetwork, ...] = DEFAULT_BLOCKED_NETWORKS
    encryption_keys: tuple[bytes, ...] = ()
    dev_mode: bool = False

    @property
    def secrets_at_rest_keys(self) -> tuple[bytes, ...]:
        """``OTP_ENCRYPTION_KEYS`` (the first one writes), else ``OTP_SECRET_KEY``."""
        if self.encryption_keys:
            return self.encryption_keys
        return (self.secret_key,) if self.secret_key else ()

    def refuse_weak_secret_key(self) -> None:
        """Outside dev mode, stop with one line if OTP_SECRET_KEY is a known or weak value.

        OTP lookup hashes, code derivation, refresh-token HMACs and (without
        OTP_ENCRYPTION_KEYS) the encryption of stored secrets all rest on it.
        """
        if self.dev_mode or self.secret_key is None:
            return
        reason = weak_secret_key_reason(self.secret_key.decode())
        if reason is not None:
            raise SettingsError(f"OTP_SECRET_KEY {reason}; generate one with {_KEY_COMMAND}")

    def require(self, *names: str) -> None:
        """Stop with one line naming the first required setting that is missing."""
        for name in names:
            if getattr(self, name) in (None, "", b""):
                raise SettingsError(f"{_ENV_NAMES[name]} is required but not set")

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


_ENV_NAMES = {
    "database_url": "OTP_DATABASE_URL",
    "broker_url": "OTP_BROKER_URL",
    "secret_key": "OTP_SECRET_KEY",
    "jwt_private_key": "OTP_JWT_PRIVATE_KEY",
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every ``OTP_*`` variable; raise :class:`SettingsError` naming a bad one."""
    env = os.environ if environ is None else environ
    reader = _Reader(env)
    secret = _read_file_value("OTP_SECRET_KEY", reader.text("OTP_SECRET_KEY"))
    if secret is not None and len(secret) < 32:
        raise SettingsError("OTP_SECRET_KEY must be at least 32 characters")
    return Settings(
        database_url=reader.text("OTP_DATABASE_URL"),
        broker_url=reader.text("OTP_BROKER_URL"),
        broker_queue_type=reader.choice("OTP_BROKER_QUEUE_TYPE", ("classic", "quorum"), "classic"),  # type: ignore[arg-type]
        database_prepared_statements=reader.choice(
            "OTP_DATABASE_PREPARED_STATEMENTS", ("on", "off"), "on"
        )
        == "on",
        database_pre_ping=reader.choice("OTP_DATABASE_PRE_PING", ("idle", "on", "off"), "idle"),  # type: ignore[arg-type]
        secret_key=secret.encode() if secret else None,
        jwt_private_key=_read_key(reader.text("OTP_JWT_PRIVATE_KEY")),
        jwt_algorithm=reader.choice("OTP_JWT_ALGORITHM", ("ES256", "RS256", "EdDSA"), "ES256"),  # type: ignore[arg-type]
        issuer=reader.text("OTP_ISSUER") or "otp-service",
        audience=reader.text("OTP_AUDIENCE") or "otp-service",
        password_hash=parse_password_hash(reader.text("OTP_PASSWORD_HASH")),
        otp_lifetime=reader.integer("OTP_LIFETIME", 600, minimum=30, maximum=86400),
        otp_length=reader.integer("OTP_LENGTH", 8, minimum=6, maximum=12),
        otp_max_per_user=reader.integer("OTP_MAX_PER_USER", 5, minimum=1),
        otp_throttle_window=reader.integer("OTP_THROTTLE_WINDOW", 900, minimum=1),
        otp_max_failed_attempts=reader.integer("OTP_MAX_FAILED_ATTEMPTS", 5, minimum=1),
        ip_rate_limit=parse_rate_limit(reader.text("OTP_IP_RATE_LIMIT")),
        trusted_proxies=reader.integer("OTP_TRUSTED_PROXIES", 0, minimum=0, maximum=10),
        environment=reader.text("OTP_ENVIRONMENT") or "Production",
        webhook_timeout=reader.number("OTP_WEBHOOK_TIMEOUT", 5.0, minimum=0.1, maximum=120),
        log_format=reader.choice("OTP_LOG_FORMAT", ("json", "text"), "json"),  # type: ignore[arg-type]
        audit_retention=parse_duration(
            "OTP_AUDIT_RETENTION", reader.text("OTP_AUDIT_RETENTION") or "30d"
        ),
        worker_metrics_port=reader.integer(
            "OTP_WORKER_METRICS_PORT", 9191, minimum=0, maximum=65535
        ),
        blocked_target_networks=parse_blocked_networks(reader.text("OTP_BLOCKED_TARGET_NETWORKS")),
        encryption_keys=parse_encryption_keys(reader.text("OTP_ENCRYPTION_KEYS")),
    )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        _check_range(name, value, minimum, maximum)
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if math.isnan(value):
            raise SettingsError(f"{name} must be a number, got {raw!r}")
        _check_range(name, value, minimum, maximum)
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        raw = self.text(name)
        if raw is None:
            return default
        if raw not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)}, got {raw!r}")
        return raw


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, got {value}")


_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Values published in this repository's examples and docs, and their obvious variants.
_KNOWN_SECRET_KEYS = frozenset({"change-me-change-me-change-me-change-me"})
_PLACEHOLDER_WORDS = ("change-me", "changeme", "replace-me", "example", "secret-key-here")
MIN_DISTINCT_SECRET_CHARACTERS = 12


def weak_secret_key_reason(secret: str) -> str | None:
    """Why ``secret`` is not fit for production, or None."""
    lowered = secret.lower()
    if secret in _KNOWN_SECRET_KEYS or any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "is the example value (or a placeholder)"
    if len(set(secret)) < MIN_DISTINCT_SECRET_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_SECRET_CHARACTERS} distinct characters"
    return None


def _read_file_value(name: str, raw: str | None) -> str | None:
    """``@/path/to/file`` is the file's content, stripped (compose's generated secret key)."""
    if raw is None or not raw.startswith("@"):
        return raw
    path = Path(raw[1:])
    try:
        return path.read_text().strip() or None
    except OSError as error:
        raise SettingsError(f"{name}: cannot read {path}: {error.strerror}") from None


def _read_key(raw: str | None) -> str | None:
    """A PEM given inline, or ``@/path/to/key.pem``."""
    if raw is None or not raw.startswith("@"):
        return raw.replace("\\n", "\n") if raw else raw
    path = Path(raw[1:])
    try:
        return path.read_text()
    except OSError as error:
        raise SettingsError(f"OTP_JWT_PRIVATE_KEY: cannot read {path}: {error.strerror}") from None


_HASH_RE = re.compile(r"^argon2id:m=(\d{1,9}),t=(\d{1,4}),p=(\d{1,3})$")


def parse_password_hash(raw: str | None) -> Argon2Parameters:
    """``argon2id:m=19456,t=2,p=1``; refuses anything below OWASP's minimum."""
    if raw is None:
        return Argon2Parameters()
    match = _HASH_RE.match(raw)
    if not match:
        raise SettingsError(
            f"OTP_PASSWORD_HASH must look like argon2id:m=19456,t=2,p=1, got {raw!r}"
        )
    memory, time_cost, lanes = (int(group) for group in match.groups())
    needed = _OWASP_MIN_MEMORY_BY_TIME.get(min(time_cost, 5), 0) if time_cost >= 1 else None
    if needed is None or lanes < 1 or memory < needed:
        raise SettingsError(
            f"OTP_PASSWORD_HASH {raw!r} is below OWASP's argon2id minimum "
            "(m=19456,t=2,p=1 or an equivalent)"
        )
    return Argon2Parameters(memory_cost=memory, time_cost=time_cost, parallelism=lanes)


def parse_encryption_keys(raw: str | None) -> tuple[bytes, ...]:
    """Comma-separated keys of at least 32 characters each; the first one encrypts."""
    if raw is None:
        return ()
    keys = tuple(entry.strip() for entry in raw.split(",") if entry.strip())
    for position, key in enumerate(keys, start=1):
        if len(key) < 32:
            raise SettingsError(
                f"OTP_ENCRYPTION_KEYS: key {position} must be at least 32 characters"
            )
    return tuple(key.encode() for key in keys)


def parse_blocked_networks(raw: str | None) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDR networks; unset is the default list, ``none`` allows all."""
    if raw is None:
        return DEFAULT_BLOCKED_NETWORKS
    if raw.lower() == "none":
        return ()
    networks: list[IPNetwork] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingsError(
                "OTP_BLOCKED_TARGET_NETWORKS must be comma-separated networks such as "
                f"127.0.0.0/8,10.0.0.0/8, or none; got {entry!r}"
            ) from None
    return tuple(networks)


_RATE_RE = re.compile(r"^(\d{1,9})\s*/\s*(second|minute|hour)$")


def parse_rate_limit(raw: str | None) -> RateLimit:
    """``120/minute`` (also ``/second``, ``/hour``); ``0`` turns the limit off."""
    if raw is None:
        return RateLimit(120, 60)
    if raw == "0":
        return RateLimit(0, 60)
    match = _RATE_RE.match(raw)
    if not match:
        raise SettingsError(f"OTP_IP_RATE_LIMIT must look like 120/minute or 0, got {raw!r}")
    return RateLimit(int(match.group(1)), _RATE_UNITS[match.group(2)])


_DURATION_RE = re.compile(r"^(\d{1,9})([smhd])$")


def parse_duration(name: str, raw: str) -> int:
    """``30d``, ``12h``, ``15m``, ``90s`` as seconds."""
    match = _DURATION_RE.match(raw)
    if not match:
        raise SettingsError(f"{name} must look like 30d, 12h, 15m or 90s, got {raw!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]
