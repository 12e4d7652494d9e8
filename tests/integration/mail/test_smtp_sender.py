"""The SMTP sender against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from core.delivery.attempts import AttemptResult, AttemptStatus
from core.delivery.channels.email import SmtpEmailSender, send_email
from core.delivery.templates import RenderedMessage
from tests.doubles import FrozenClock
from tests.integration.mail.conftest import SMTP_LOGIN, SMTP_PASSWORD
from tests.processes import free_port
from tests.smtp import SelfSignedCertificate, SmtpSink

CODE = "48213907"
CONTENT = RenderedMessage(
    subject="Your one-time password\n",
    text=f"Your one-time password is {CODE}.\n",
    html=f"<p>Your one-time password is <strong>{CODE}</strong>.</p>",
)
SENT_AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def sender(certificate: SelfSignedCertificate | None = None) -> SmtpEmailSender:
    return SmtpEmailSender(
        clock=FrozenClock(SENT_AT),
        timeout=10,
        ssl_context=certificate.client_context() if certificate else None,
        local_hostname="localhost",
    )


def send(
    smtp: SmtpEmailSender, target: dict[str, object], delivery_id: str = "dlv-1"
) -> AttemptResult:
    return send_email(
        smtp,
        target,
        recipient="ada@example.com",
        content=CONTENT,
        delivery_id=delivery_id,
        secrets=(CODE,),
    )


def parts(message: EmailMessage) -> dict[str, str]:
    """Each alternative's text, with the wire's CRLF line ends read back as newlines."""
    return {
        part.get_content_type(): part.get_content().replace("\r\n", "\n")
        for part in message.iter_parts()
    }


def test_a_plain_send_arrives_as_text_and_html_alternatives_with_the_right_headers(
    smtp_sink: SmtpSink,
) -> None:
    result = send(sender(), smtp_sink.smtp_target(), delivery_id="0b6c1f4e-delivery")

    assert result == AttemptResult.delivered(250)
    [received] = smtp_sink.received
    message = received.message
    assert received.mail_from == "no-reply@shop.example"
    assert received.rcpt_tos == ["ada@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    assert parts(message) == {"text/plain": CONTENT.text, "text/html": CONTENT.html + "\n"}
    assert message["Subject"] == "Your one-time password"
    assert message["From"] == "Shop <no-reply@shop.example>"
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"] == "<0b6c1f4e-delivery@shop.example>"
    assert parsedate_to_datetime(message["Date"]) == SENT_AT
    assert not received.over_tls


def test_a_retried_delivery_sends_the_same_message_id(smtp_sink: SmtpSink) -> None:
    smtp = sender()
    send(smtp, smtp_sink.smtp_target(), delivery_id="dlv-retry")
    send(smtp, smtp_sink.smtp_target(), delivery_id="dlv-retry")

    ids = {received.message["Message-ID"] for received in smtp_sink.received}
    assert ids == {"<dlv-retry@shop.example>"}


def test_starttls_and_auth_deliver_over_an_encrypted_authenticated_session(
    starttls_smtp_sink: SmtpSink, smtp_certificate: SelfSignedCertificate
) -> None:
    target = starttls_smtp_sink.smtp_target(
        Security="starttls", Username=SMTP_LOGIN, Password=SMTP_PASSWORD
    )

    result = send(sender(smtp_certificate), target)

    assert result.status is AttemptStatus.DELIVERED
    [received] = starttls_smtp_sink.received
    assert received.over_tls
    assert received.authenticated_as == SMTP_LOGIN
    assert parts(received.message)["text/plain"] == CONTENT.text


def test_implicit_tls_delivers_over_tls_from_the_first_byte(
    implicit_tls_smtp_sink: SmtpSink, smtp_certificate: SelfSignedCertificate
) -> None:
    result = send(sender(smtp_certificate), implicit_tls_smtp_sink.smtp_target(Security="tls"))

    assert result.status is AttemptStatus.DELIVERED
    [received] = implicit_tls_smtp_sink.received
    assert received.over_tls


def test_a_certificate_the_sender_does_not_trust_fails_without_sending(
    implicit_tls_smtp_sink: SmtpSink,
) -> None:
    result = send(sender(), implicit_tls_smtp_sink.smtp_target(Security="tls"))

    assert result.status is AttemptStatus.FAILED
    assert result.error is not None
    assert "certificate" in result.error
    assert implicit_tls_smtp_sink.received == []


def test_starttls_is_never_downgraded_when_the_server_does_not_offer_it(
    smtp_sink: SmtpSink,
) -> None:
    result = send(sender(), smtp_sink.smtp_target(Security="starttls"))

    assert result.status is AttemptStatus.FAILED
    assert result.error is not None
    assert "STARTTLS" in result.error
    assert smtp_sink.received == []


def test_a_451_on_data_is_transient_and_the_next_attempt_delivers(smtp_sink: SmtpSink) -> None:
    smtp_sink.reply_once("DATA", "451 4.3.0 Mail server temporarily rejected message")
    smtp = sender()

    first = send(smtp, smtp_sink.smtp_target())
    second = send(smtp, smtp_sink.smtp_target())

    assert first.status is AttemptStatus.RETRY
    assert first.status_code == 451
    assert first.error is not None
    assert "temporarily rejected" in first.error
    assert second.status is AttemptStatus.DELIVERED
    assert len(smtp_sink.received) == 1


def test_a_550_for_the_recipient_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.always_reply("RCPT", "550 5.1.1 Mailbox unavailable")

    result = send(sender(), smtp_sink.smtp_target())

    assert result.status is AttemptStatus.FAILED
    assert result.status_code == 550
    assert smtp_sink.received == []


def test_a_452_for_the_recipient_is_transient(smtp_sink: SmtpSink) -> None:
    smtp_sink.always_reply("RCPT", "452 4.2.2 Mailbox full")

    result = send(sender(), smtp_sink.smtp_target())

    assert (result.status, result.status_code) == (AttemptStatus.RETRY, 452)


def test_a_554_refusing_the_content_is_permanent_and_never_echoes_the_code(
    smtp_sink: SmtpSink,
) -> None:
    smtp_sink.always_reply("DATA", f"554 5.7.1 Message refused: contains {CODE}")

    result = send(sender(), smtp_sink.smtp_target())

    assert (result.status, result.status_code) == (AttemptStatus.FAILED, 554)
    assert result.error is not None
    assert CODE not in result.error
    assert "[redacted]" in result.error


def test_a_refused_connection_is_transient() -> None:
    target = {
        "Host": "127.0.0.1",
        "Port": free_port(),
        "From": "a@shop.example",
        "Security": "none",
    }

    result = send(sender(), target)

    assert result.status is AttemptStatus.RETRY
    assert result.status_code is None
    assert result.error is not None
    assert "connection failed" in result.error


def test_a_wrong_password_is_a_permanent_535_and_the_error_never_holds_the_password(
    starttls_smtp_sink: SmtpSink, smtp_certificate: SelfSignedCertificate
) -> None:
    wrong_password = "not-the-relay-pass-77"
    target = starttls_smtp_sink.smtp_target(
        Security="starttls", Username=SMTP_LOGIN, Password=wrong_password
    )

    result = send(sender(smtp_certificate), target)

    assert (result.status, result.status_code) == (AttemptStatus.FAILED, 535)
    assert result.error is not None
    assert wrong_password not in result.error
    assert SMTP_PASSWORD not in result.error
    assert starttls_smtp_sink.received == []


def test_sending_without_the_required_login_is_refused_permanently(
    starttls_smtp_sink: SmtpSink, smtp_certificate: SelfSignedCertificate
) -> None:
    result = send(sender(smtp_certificate), starttls_smtp_sink.smtp_target(Security="starttls"))

    assert (result.status, result.status_code) == (AttemptStatus.FAILED, 530)


def test_credentials_are_never_sent_in_clear_to_a_remote_host() -> None:
    target = {
        "Host": "smtp.example.net",
        "Port": 25,
        "From": "a@shop.example",
        "Security": "none",
        "Username": "user",
        "Password": "secret-pw-1",
    }

    result = send(sender(), target)

    assert result.status is AttemptStatus.FAILED
    assert result.error == "refusing to send SMTP credentials over an unencrypted connection"


def test_a_user_without_an_email_address_fails_without_connecting(smtp_sink: SmtpSink) -> None:
    result = send_email(
        sender(), smtp_sink.smtp_target(), recipient=None, content=CONTENT, delivery_id="d"
    )

    assert result.status is AttemptStatus.FAILED
    assert smtp_sink.received == []


def test_a_recipient_address_with_a_header_injection_is_refused(smtp_sink: SmtpSink) -> None:
    result = send_email(
        sender(),
        smtp_sink.smtp_target(),
        recipient="ada@example.com\r\nBcc: all@example.com",
        content=CONTENT,
        delivery_id="d",
    )

    assert result.status is AttemptStatus.FAILED
    assert smtp_sink.received == []


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung relay)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def hanging_up_server() -> Iterator[int]:
    """A TCP port that accepts one connection and closes it at once (a crashing relay)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def hang_up() -> None:
        with contextlib.suppress(OSError):
            connection, _address = listener.accept()
            connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=5)


def test_a_relay_that_never_answers_is_a_transient_timeout(silent_server: int) -> None:
    smtp = SmtpEmailSender(timeout=0.5, local_hostname="localhost")
    target = {
        "Host": "127.0.0.1",
        "Port": silent_server,
        "From": "a@shop.example",
        "Security": "none",
    }

    result = send(smtp, target)

    assert (result.status, result.error) == (AttemptStatus.RETRY, "timed out after 0.5s")


def test_a_relay_that_hangs_up_is_transient(hanging_up_server: int) -> None:
    target = {
        "Host": "127.0.0.1",
        "Port": hanging_up_server,
        "From": "a@shop.example",
        "Security": "none",
    }

    result = send(sender(), target)

    assert result.status is AttemptStatus.RETRY
    assert result.status_code is None
