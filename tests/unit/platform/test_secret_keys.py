"""Secrets at rest (sealing, rotation) and refusing weak or example secret keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from core.platform.errors import SettingsError
from core.platform.secret_box import SEALED_PREFIX, SecretBox, UnreadableSecret
from core.platform.settings import load_settings, weak_secret_key_reason

OLD = b"old-key-0123456789abcdefghijklmnopqrstuvwxyz"
NEW = b"new-key-0123456789abcdefghijklmnopqrstuvwxyz"


def test_a_sealed_secret_holds_no_plaintext_and_opens_with_its_key() -> None:
    box = SecretBox([OLD])
    sealed = box.seal("smtp-password")
    assert sealed.startswith(SEALED_PREFIX) and "smtp-password" not in sealed
    assert box.seal("smtp-password") != sealed  # a fresh IV every time
    assert box.open(sealed) == "smtp-password"
    assert box.seal(sealed) == sealed  # sealing twice does not nest


def test_rotation_writes_with_the_first_key_and_reads_with_any() -> None:
    sealed_by_old = SecretBox([OLD]).seal("shared-key")
    rotating = SecretBox([NEW, OLD])
    assert rotating.open(sealed_by_old) == "shared-key"
    resealed = rotating.reseal(sealed_by_old)
    assert SecretBox([NEW]).open(resealed) == "shared-key"
    with pytest.raises(UnreadableSecret):
        SecretBox([OLD]).open(resealed)


def test_encryption_keys_come_from_their_own_setting_or_the_secret_key() -> None:
    secret = "s" * 8 + "0123456789abcdefghijklmnopqrstuvwxyz"
    assert load_settings({"OTP_SECRET_KEY": secret}).secrets_at_rest_keys == (secret.encode(),)
    listed = load_settings(
        {"OTP_SECRET_KEY": secret, "OTP_ENCRYPTION_KEYS": f"{NEW.decode()}, {OLD.decode()}"}
    )
    assert listed.secrets_at_rest_keys == (NEW, OLD)
    with pytest.raises(SettingsError, match="OTP_ENCRYPTION_KEYS: key 2"):
        load_settings({"OTP_ENCRYPTION_KEYS": f"{NEW.decode()},short"})


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        ("change-me-change-me-change-me-change-me", True),
        ("CHANGEME-0123456789abcdefghijklmnopqrstuv", True),
        ("a" * 64, True),
        ("abababababababababababababababab1234", True),
        ("test-secret-key-0123456789abcdef-0123456789", False),
        ("Xq3v9N1tKz0bM8yPw2sLr5uGh7eJc4dA", False),
    ],
)
def test_weak_and_example_keys_are_recognised(key: str, weak: bool) -> None:
    assert (weak_secret_key_reason(key) is not None) is weak


def test_a_command_refuses_to_start_with_the_example_key_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTP_SECRET_KEY", "change-me-change-me-change-me-change-me")
    monkeypatch.setenv("OTP_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")

    assert main(["purge"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("otp purge: OTP_SECRET_KEY is the example value")
    assert error.count("\n") == 1


def test_the_secret_key_may_be_read_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret-key"
    key_file.write_text("Xq3v9N1tKz0bM8yPw2sLr5uGh7eJc4dA\n")
    loaded = load_settings({"OTP_SECRET_KEY": f"@{key_file}"})
    assert loaded.secret_key == b"Xq3v9N1tKz0bM8yPw2sLr5uGh7eJc4dA"
