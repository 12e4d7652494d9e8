from __future__ import annotations

import pytest

from core.platform.errors import SettingsError
from core.platform.settings import Argon2Parameters, RateLimit, load_settings


def test_defaults_match_the_operations_document() -> None:
    settings = load_settings({})
    assert settings.otp_lifetime == 600
    assert settings.otp_length == 8
    assert (settings.otp_max_per_user, settings.otp_throttle_window) == (5, 900)
    assert settings.otp_max_failed_attempts == 5
    assert settings.ip_rate_limit == RateLimit(120, 60)
    assert settings.password_hash == Argon2Parameters(19456, 2, 1)
    assert settings.jwt_algorithm == "ES256"
    assert settings.environment == "Production"
    assert settings.audit_retention == 30 * 86400
    assert settings.log_format == "json"


def test_values_are_parsed_with_their_types() -> None:
    settings = load_settings(
        {
            "OTP_LENGTH": "10",
            "OTP_IP_RATE_LIMIT": "5/second",
            "OTP_AUDIT_RETENTION": "12h",
            "OTP_PASSWORD_HASH": "argon2id:m=65536,t=3,p=4",
            "OTP_WEBHOOK_TIMEOUT": "2.5",
            "OTP_SECRET_KEY": "k" * 40,
        }
    )
    assert settings.otp_length == 10
    assert settings.ip_rate_limit == RateLimit(5, 1)
    assert settings.audit_retention == 12 * 3600
    assert settings.password_hash == Argon2Parameters(65536, 3, 4)
    assert settings.webhook_timeout == 2.5
    assert settings.secret_key == b"k" * 40


def test_rate_limit_zero_turns_it_off() -> None:
    assert not load_settings({"OTP_IP_RATE_LIMIT": "0"}).ip_rate_limit.enabled


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTP_LENGTH", "5"),
        ("OTP_LENGTH", "13"),
        ("OTP_LENGTH", "eight"),
        ("OTP_LIFETIME", "-1"),
        ("OTP_JWT_ALGORITHM", "HS256"),
        ("OTP_PASSWORD_HASH", "argon2id:m=1024,t=1,p=1"),
        ("OTP_PASSWORD_HASH", "bcrypt"),
        ("OTP_IP_RATE_LIMIT", "lots"),
        ("OTP_AUDIT_RETENTION", "forever"),
        ("OTP_LOG_FORMAT", "xml"),
        ("OTP_WEBHOOK_TIMEOUT", "nan"),
        ("OTP_SECRET_KEY", "short"),
        ("OTP_JWT_PRIVATE_KEY", "@/nonexistent/key.pem"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_a_missing_required_value_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="OTP_DATABASE_URL is required"):
        load_settings({}).require("database_url")


def test_a_key_file_is_read_from_an_at_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "key.pem"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    settings = load_settings({"OTP_JWT_PRIVATE_KEY": f"@{key_file}"})
    assert settings.jwt_private_key == key_file.read_text()
