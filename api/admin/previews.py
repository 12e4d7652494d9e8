"""``POST /v1/messagesenders/{id}/preview``: a sender's message rendered with sample data.

Readers (MessageSenderReader) may preview the stored templates; trying out unsaved
``TemplateOverrides`` runs caller-supplied template code, so it takes MessageSenderAdmin,
the role that may save them.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from api.admin.messaging import TemplateOverrides
from api.auth import authorized, current_principal
from api.openapi import Operation, document
from api.runtime import current_runtime
from api.wire import Text, WireModel, parse_body
from core.delivery.previews import preview_otp_message
from core.delivery.templates import MessageRenderer
from core.identity.authorization import Verb, authorize
from core.platform.db import transaction

RESOURCE = "MessagePreview"


class MessagePreviewRequest(WireModel):
    """Optional: every field may be left out, and so may the whole body."""

    locale: Text | None = Field(
        default=None, description="The sample recipient's xp.Locale, such as fr or fr-CA."
    )
    template_overrides: TemplateOverrides | None = Field(
        default=None,
        description="Unsaved overrides to render instead of the stored ones (MessageSenderAdmin).",
    )


class MessagePreview(WireModel):
    """The rendered message; its code is a placeholder (12345678), never a real one."""

    subject: str
    text: str
    html: str


def previews_blueprint() -> Blueprint:
    blueprint = Blueprint("admin_message_previews", __name__)
    renderer = MessageRenderer()

    @authorized(RESOURCE, Verb.GET)
    def preview(id: str) -> Response:
        has_body = bool(request.get_data(cache=True).strip())
        body = parse_body(MessagePreviewRequest) if has_body else MessagePreviewRequest()
        overrides = None
        if body.template_overrides is not None:
            authorize(current_principal(), RESOURCE, Verb.ACTION, {"id": id})
            overrides = body.template_overrides.model_dump(by_alias=True, exclude_none=True)
        runtime = current_runtime()
        with transaction(runtime.sessions) as session:
            message = preview_otp_message(
                session,
                id,
                renderer=renderer,
                settings=runtime.settings,
                now=runtime.clock.now(),
                locale=body.locale,
                overrides=overrides,
            )
        preview_body = MessagePreview.model_validate(
            {"subject": message.subject, "text": message.text, "html": message.html}, by_name=True
        )
        return jsonify(preview_body.model_dump(by_alias=True))

    blueprint.add_url_rule("/v1/messagesenders/<id>/preview", "preview", preview, methods=["POST"])
    document(
        blueprint,
        Operation(
            "/v1/messagesenders/{id}/preview",
            "post",
            "Render the sender's OneTimePassword message with sample data",
            "MessageSender",
            request_model=MessagePreviewRequest,
            request_body_required=False,
            responses={200: MessagePreview},
            errors=(400, 404),
        ),
    )
    return blueprint
