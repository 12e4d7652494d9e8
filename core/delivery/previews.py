"""Previewing a message sender's OneTimePassword message against sample data.

The preview renders exactly what a delivery would (the same renderer, overrides and
locale rules) for a made-up recipient and a placeholder code. No OTP is issued, looked
up or derived: the code in a preview is :func:`sample_code`, the same for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from core.admin.messaging import MessageSenderStore
from core.delivery.context import Recipient
from core.delivery.locales import normalize_locale
from core.delivery.service import otp_template_context
from core.delivery.templates import (
    OTP_TEMPLATE_FOLDER,
    MessageRenderer,
    RenderedMessage,
    TemplateRenderError,
    check_template_overrides,
)
from core.platform.errors import InvalidRequest
from core.platform.settings import Settings

_SAMPLE_DIGITS = "1234567890"
SAMPLE_CLIENT_ID = "SAMPLE-CLIENT-ID"
SAMPLE_APP_NAME = "Sample Storefront"


def sample_code(length: int) -> str:
    """``12345678`` for 8-digit codes: a placeholder anyone recognises as one."""
    return (_SAMPLE_DIGITS * (length // len(_SAMPLE_DIGITS) + 1))[:length]


def sample_recipient(locale: str | None) -> Recipient:
    """A made-up buyer user."""
    return Recipient(
        id="sample-user",
        buyer_id=None,
        username="sample.user",
        first_name="Sam",
        last_name="Sample",
        email="sample.user@example.com",
        phone=None,
        active=True,
        xp={"Locale": locale} if locale else {},
    )


def preview_otp_message(
    session: Session,
    sender_id: str,
    *,
    renderer: MessageRenderer,
    settings: Settings,
    now: datetime,
    locale: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> RenderedMessage:
    """The sender's message for the sample recipient; ``overrides`` replace the stored ones.

    :class:`InvalidRequest` for a malformed locale or a template that does not render.
    """
    sender = MessageSenderStore().get(session, sender_id, {})
    if locale is not None and normalize_locale(locale) is None:
        raise InvalidRequest(
            "Locale is not a language tag such as fr or fr-CA.", data={"Field": "Locale"}
        )
    if overrides is not None:
        check_template_overrides(overrides)
    sources = dict(sender.template_overrides or {}) if overrides is None else dict(overrides)
    recipient = sample_recipient(locale)
    context = otp_template_context(
        user=recipient,
        client_id=SAMPLE_CLIENT_ID,
        app_name=SAMPLE_APP_NAME,
        code=sample_code(settings.otp_length),
        expires_at=now + timedelta(seconds=settings.otp_lifetime),
        now=now,
        environment=settings.environment,
    )
    try:
        return renderer.render(OTP_TEMPLATE_FOLDER, context, sources, locale=locale)
    except TemplateRenderError as error:
        part = str(error).partition(":")[0]
        raise InvalidRequest(
            f"template error in {error}",
            data={"Field": f"TemplateOverrides.{part}"},
            error_code="MessageSenders.TemplateError",
        ) from None
