"""Email delivery end to end: RabbitMQ, worker threads, PostgreSQL and a real SMTP server.

The SMTP server is aiosmtpd on loopback (``tests/smtp.py``), scripted to defer or refuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy.orm import Session

from core.models import DELIVERED, FAILED, PENDING, Delivery, MessageSender, User
from core.otp.codes import derive_code
from tests.factories import make_buyer, make_client, make_email_sender, make_user
from tests.integration.pipeline.conftest import Pipeline, PipelineFactory
from tests.smtp import SmtpSink, running_smtp_sink


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with running_smtp_sink() as sink:
        yield sink


def _code_of(pipeline: Pipeline, delivery: Delivery) -> str:
    (otp,) = pipeline.otps(id=delivery.otp_id)
    settings = pipeline.runtime.settings
    assert settings.secret_key is not None
    return derive_code(settings.secret_key, otp.nonce, settings.otp_length)


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _deliver_to(pipeline: Pipeline, client_id: str, user: User, *, after: str = "") -> Delivery:
    """Request an OTP for ``user``; its delivery once final (``after``: an earlier one's ID)."""
    pipeline.request(client_id, username=user.username)
    return pipeline.wait_for_delivery(
        lambda row: row.user_id == user.id and row.id != after and row.status != PENDING
    )


def test_the_email_arrives_with_the_subject_and_the_code_in_its_text_and_html_parts(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    user = make_user(committed_session, buyer=make_buyer(committed_session), first_name="Ada")
    committed_session.commit()
    pipeline = start_pipeline()

    delivery = _deliver_to(pipeline, client.id, user)

    assert (delivery.status, delivery.attempts, delivery.channel) == (DELIVERED, 1, "email")
    (received,) = smtp_sink.received
    message = received.message
    code = _code_of(pipeline, delivery)
    assert message["Subject"] == "Your one-time password for Storefront"
    assert message["From"] == "Shop <no-reply@shop.example>"
    assert message["To"] == user.email
    assert message["Message-ID"] == f"<{delivery.id}@shop.example>"
    assert received.rcpt_tos == [user.email]
    assert message.get_content_type() == "multipart/alternative"
    text, html = _parts(message)
    assert code in text and code in html
    assert "Hello Ada" in text


def test_a_451_once_is_retried_and_then_delivered(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    smtp_sink.reply_once("RCPT", "451 4.7.1 Greylisted, try again later")
    pipeline = start_pipeline()

    delivery = _deliver_to(pipeline, client.id, user)

    assert (delivery.status, delivery.attempts, delivery.last_error) == (DELIVERED, 2, None)
    assert len(smtp_sink.received) == 1


def test_a_550_fails_the_delivery_without_a_retry(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    smtp_sink.always_reply("RCPT", "550 5.1.1 No such mailbox")
    pipeline = start_pipeline()

    delivery = _deliver_to(pipeline, client.id, user)

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (FAILED, 1, 550)
    assert delivery.last_error is not None and "550" in delivery.last_error
    assert "No such mailbox" in delivery.last_error
    assert smtp_sink.received == []


def test_a_french_user_receives_the_french_template(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    buyer = make_buyer(committed_session)
    french = make_user(committed_session, buyer=buyer, first_name="Élodie", xp={"Locale": "fr-CA"})
    english = make_user(committed_session, buyer=buyer, first_name="Ada")
    committed_session.commit()
    pipeline = start_pipeline()

    _deliver_to(pipeline, client.id, french)
    _deliver_to(pipeline, client.id, english)

    by_recipient = {mail.rcpt_tos[0]: mail.message for mail in smtp_sink.received}
    french_mail, english_mail = by_recipient[french.email], by_recipient[english.email]
    assert french_mail["Subject"].startswith("Votre mot de passe à usage unique")
    assert "Bonjour Élodie" in _parts(french_mail)[0]
    assert 'lang="fr"' in _parts(french_mail)[1]
    assert english_mail["Subject"].startswith("Your one-time password")


def test_a_broken_override_fails_its_delivery_with_the_error_and_the_worker_goes_on(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    sender = make_email_sender(
        committed_session,
        smtp=smtp_sink.smtp_target(),
        template_overrides={"body.txt": "Your code: {{ cdoe }}"},
    )
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()

    failed = _deliver_to(pipeline, client.id, user)
    assert (failed.status, failed.attempts) == (FAILED, 0)
    assert failed.last_error == "template error in body.txt: UndefinedError: 'cdoe' is undefined"
    assert smtp_sink.received == []

    stored = committed_session.get(MessageSender, sender.id)
    assert stored is not None
    stored.template_overrides = {"body.txt": "Your code: {{ code }}"}
    committed_session.commit()
    delivered = _deliver_to(pipeline, client.id, user, after=failed.id)

    assert delivered.status == DELIVERED
    (received,) = smtp_sink.received
    assert _parts(received.message)[0].strip() == f"Your code: {_code_of(pipeline, delivered)}"


def test_a_script_tag_in_a_first_name_is_escaped_in_the_html_part(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    user = make_user(
        committed_session,
        buyer=make_buyer(committed_session),
        first_name="<script>alert(1)</script>",
    )
    committed_session.commit()
    pipeline = start_pipeline()

    assert _deliver_to(pipeline, client.id, user).status == DELIVERED

    (received,) = smtp_sink.received
    text, html = _parts(received.message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Hello <script>alert(1)</script>," in text  # plain text is not markup


def test_a_user_without_an_email_address_fails_with_a_clear_error(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(committed_session, smtp=smtp_sink.smtp_target())
    user = make_user(committed_session, buyer=make_buyer(committed_session), email=None)
    committed_session.commit()
    pipeline = start_pipeline()

    delivery = _deliver_to(pipeline, client.id, user)

    assert (delivery.status, delivery.last_error) == (FAILED, "the user has no email address")
    assert smtp_sink.received == []


def test_a_stored_template_bomb_fails_its_delivery_once_without_a_retry(
    start_pipeline: PipelineFactory, smtp_sink: SmtpSink, committed_session: Session
) -> None:
    # Stored directly (the admin API refuses it at save time), as an older row could be.
    client = make_client(committed_session, allow_any_buyer=True)
    make_email_sender(
        committed_session,
        smtp=smtp_sink.smtp_target(),
        template_overrides={"body.txt": "{{ ('x' * 200000000)|length }}"},
    )
    user = make_user(committed_session, buyer=make_buyer(committed_session))
    committed_session.commit()
    pipeline = start_pipeline()

    failed = _deliver_to(pipeline, client.id, user)

    assert (failed.status, failed.attempts) == (FAILED, 0)
    assert failed.last_error == (
        "template error in body.txt: a string or list over the length bound"
    )
    assert smtp_sink.received == []
