from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.delivery.attempts import AttemptStatus
from core.delivery.mail import (
    SmtpTarget,
    build_email,
    classify_reply,
    message_id_for,
    parse_smtp_target,
    redact,
)
from core.delivery.templates import RenderedMessage
from core.platform.errors import UnsendableEmail


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (250, AttemptStatus.DELIVERED),
        (None, AttemptStatus.RETRY),
        (421, AttemptStatus.RETRY),
        (450, AttemptStatus.RETRY),
        (451, AttemptStatus.RETRY),
        (452, AttemptStatus.RETRY),
        (454, AttemptStatus.RETRY),
        (535, AttemptStatus.FAILED),
        (550, AttemptStatus.FAILED),
        (553, AttemptStatus.FAILED),
        (554, AttemptStatus.FAILED),
    ],
)
def test_smtp_reply_codes_map_to_deliver_retry_or_fail(
    code: int | None, outcome: AttemptStatus
) -> None:
    assert classify_reply(code) is outcome


def test_a_target_without_port_gets_the_default_port_of_its_security_mode() -> None:
    ports = {
        security: parse_smtp_target(
            {"Host": "mx", "From": "a@b.example", "Security": security}
        ).port
        for security in ("starttls", "tls", "none")
    }
    assert ports == {"starttls": 587, "tls": 465, "none": 25}


def test_a_target_without_security_uses_starttls() -> None:
    assert parse_smtp_target({"Host": "mx", "From": "a@b.example"}).security == "starttls"


@pytest.mark.parametrize(
    "raw",
    [
        {"From": "a@b.example"},
        {"Host": "mx", "From": "a@b.example", "Security": "ssl"},
        {"Host": "mx", "From": "a@b.example", "Port": 70000},
        {"Host": "mx", "From": "a@b.example", "Port": "25"},
        {"Host": "mx", "From": "not an address"},
        {"Host": "mx\r\nRCPT TO:<x@y>", "From": "a@b.example"},
    ],
)
def test_an_unusable_smtp_target_is_refused_with_a_reason(raw: dict[str, object]) -> None:
    with pytest.raises(UnsendableEmail):
        parse_smtp_target(raw)


def test_the_target_repr_never_shows_the_password() -> None:
    target = parse_smtp_target(
        {"Host": "mx", "From": "a@b.example", "Username": "u", "Password": "pw-secret-1"}
    )
    assert "pw-secret-1" not in repr(target)


def test_message_id_is_the_delivery_id_at_the_senders_domain() -> None:
    target = SmtpTarget(host="mx", port=25, from_address="Shop <no-reply@shop.example>")
    assert target.sender_domain == "shop.example"
    assert message_id_for("d-1", target.sender_domain) == "<d-1@shop.example>"


def test_a_french_subject_and_body_survive_encoding_and_a_multiline_subject_becomes_one_line() -> (
    None
):
    target = SmtpTarget(host="mx", port=25, from_address="Boutique <no-reply@shop.example>")
    content = RenderedMessage(
        subject="Votre mot de passe\nà usage unique\n",
        text="Bonjour Zoé, voici votre code : 12345678\n",
        html="<p>Bonjour Zoé</p>",
    )

    message = build_email(
        target,
        recipient="zoe@example.fr",
        content=content,
        delivery_id="d-2",
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
    )

    assert message["Subject"] == "Votre mot de passe à usage unique"
    text_part, html_part = message.iter_parts()
    assert text_part.get_content() == content.text  # type: ignore[attr-defined]
    assert "Zoé" in html_part.get_content()  # type: ignore[attr-defined]
    assert message.as_bytes().isascii()  # 7-bit on the wire: any relay accepts it


def test_redact_removes_every_secret_and_caps_the_length() -> None:
    text = "535 bad credentials for pw-1 (code 12345678) " + "x" * 1000
    cleaned = redact(text, ["pw-1", "12345678", None, ""])
    assert "pw-1" not in cleaned
    assert "12345678" not in cleaned
    assert len(cleaned) <= 300
