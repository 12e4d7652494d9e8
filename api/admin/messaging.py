"""Message senders, delivery configs and deliveries: schemas and rules (docs/admin-api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
)

from api.admin.collection import Collection, ListParams
from api.admin.identity import Role
from api.wire import Extended, ObjectId, Text, WireModel
from core.admin.messaging import DeliveryConfigStore, DeliveryStore, MessageSenderStore
from core.delivery.address_policy import AddressPolicy
from core.identity.authorization import check_elevated_roles
from core.identity.roles import MESSAGE_TYPES
from core.models import DELIVERY_STATUSES
from core.platform.settings import Settings

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=500)]
# RFC 9110 5.1 and 5.5: a field name is a token; the value is sent as visible ASCII
# (spaces inside), never CR, LF or NUL, which would end the header or the request.
HeaderName = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
]
HeaderValue = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=500, pattern=r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$"
    ),
]
# SMTP AUTH PLAIN and LOGIN send ASCII (smtplib cannot encode anything else).
SmtpCredential = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[\x20-\x7e]+$")
]
# One line: a From with CR or LF would add headers of its own.
SingleLine = Annotated[
    str, StringConstraints(min_length=3, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
HostName = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
]
# The source's length is checked with the template itself (MessageSenders.TemplateError).
Template = str


def _known_message_type(name: str) -> str:
    if name not in MESSAGE_TYPES:
        raise ValueError(f"{name!r} is not an OrderCloud MessageType")
    return name


MessageType = Annotated[
    str,
    AfterValidator(_known_message_type),
    WithJsonSchema({"type": "string", "enum": sorted(MESSAGE_TYPES)}),
]


class TemplateOverrides(WireModel):
    """Jinja2 sources replacing the default OneTimePassword templates for this sender."""

    subject_txt: Template | None = Field(default=None, alias="subject.txt")
    body_txt: Template | None = Field(default=None, alias="body.txt")
    body_html: Template | None = Field(default=None, alias="body.html")


class MessageSenderFields(WireModel):
    id: ObjectId | None = None
    name: Name
    message_types: list[MessageType] = Field(default_factory=list, max_length=50)
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    url: Url | None = Field(
        default=None, description="Legacy form: the webhook. '{messagetype}' is filled in."
    )
    delivery_config_id: ObjectId | None = Field(default=None, description="Current form.")
    elevated_roles: list[Role] = Field(default_factory=list, max_length=200)
    allow_all_buyers: bool = Field(
        default=False,
        description="true: applies to every buyer's users without an assignment.",
    )
    xp: Extended = Field(default_factory=dict)
    template_overrides: TemplateOverrides = Field(default_factory=TemplateOverrides)


class MessageSender(MessageSenderFields):
    """A message sender as read: SharedKey is never returned."""

    id: str
    name: str
    message_types: list[str] = Field(default_factory=list)
    elevated_roles: list[str] = Field(default_factory=list)
    url: str | None = None


class MessageSenderWrite(MessageSenderFields):
    shared_key: Secret | None = Field(
        default=None, description="Write-only. Legacy form: signs the webhook."
    )


class WebhookTargetView(WireModel):
    endpoint: str


class WebhookTarget(WireModel):
    endpoint: Url
    secret: Secret | None = Field(default=None, description="Write-only; signs every message.")


class HttpTargetView(WebhookTargetView):
    custom_auth_header_name: str | None = None


class HttpTarget(WebhookTarget):
    custom_auth_header_name: HeaderName | None = Field(
        default=None, description="An RFC 9110 token, such as Authorization."
    )
    custom_auth_header_value: HeaderValue | None = Field(
        default=None, description="Write-only. Visible ASCII (spaces inside), one line."
    )


SmtpSecurity = Literal["starttls", "tls", "none"]


class SmtpTargetView(WireModel):
    host: str
    port: int
    username: str | None = None
    from_address: str = Field(alias="From")
    security: SmtpSecurity


class SmtpTarget(WireModel):
    host: HostName
    port: int = Field(default=587, ge=1, le=65535)
    username: SmtpCredential | None = None
    password: SmtpCredential | None = Field(default=None, description="Write-only. ASCII.")
    from_address: SingleLine = Field(alias="From")
    security: SmtpSecurity = "starttls"


class ConsoleTarget(WireModel):
    """Prints messages; accepted in dev mode only."""


class DeliveryTargetsView(WireModel):
    """The configured targets (absent ones are left out), without their secrets."""

    message_sender: WebhookTargetView | None = None
    http: HttpTargetView | None = None
    smtp: SmtpTargetView | None = None
    console: ConsoleTarget | None = None

    @model_serializer(mode="wrap")
    def _only_configured(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {name: target for name, target in dumped.items() if target is not None}


class DeliveryTargets(WireModel):
    """Secrets left out (or null) on PUT/PATCH keep the stored ones."""

    message_sender: WebhookTarget | None = None
    http: HttpTarget | None = None
    smtp: SmtpTarget | None = None
    console: ConsoleTarget | None = None


class DeliveryConfigFields(WireModel):
    id: ObjectId | None = None
    name: Name
    enabled: bool = True


class DeliveryConfig(DeliveryConfigFields):
    id: str
    name: str
    delivery_targets: DeliveryTargetsView


class DeliveryConfigWrite(DeliveryConfigFields):
    delivery_targets: DeliveryTargets


class Delivery(WireModel):
    """What happened to one message; it never carries the code."""

    id: str
    otp_id: str | None
    sender_id: str
    target: str
    channel: str
    user_id: str
    client_id: str
    request_id: str
    status: str
    attempts: int
    last_error: str | None
    last_status_code: int | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryListParams(ListParams):
    status: Literal[DELIVERY_STATUSES] | None = None  # type: ignore[valid-type]
    username: Text | None = None
    sender: Text | None = Field(default=None, description="Message sender ID.")
    created_from: AwareDatetime | None = Field(
        default=None, alias="from", description="CreatedAt at or after (ISO 8601 with zone)."
    )
    created_to: AwareDatetime | None = Field(
        default=None, alias="to", description="CreatedAt before (ISO 8601 with zone)."
    )


def messaging_collections(settings: Settings) -> list[Collection]:
    policy = AddressPolicy.of(settings)
    return [
        Collection(
            name="MessageSender",
            path="/v1/messagesenders",
            store=MessageSenderStore(address_policy=policy),
            read_model=MessageSender,
            write_model=MessageSenderWrite,
            resource="MessageSender",
            guard=check_elevated_roles,
        ),
        Collection(
            name="DeliveryConfig",
            path="/v1/integrations/deliveryconfig",
            store=DeliveryConfigStore(allow_console=settings.dev_mode, address_policy=policy),
            read_model=DeliveryConfig,
            write_model=DeliveryConfigWrite,
            resource="DeliveryConfig",
        ),
        Collection(
            name="Delivery",
            path="/v1/deliveries",
            store=DeliveryStore(),
            read_model=Delivery,
            write_model=None,
            resource="Delivery",
            list_params=DeliveryListParams,
        ),
    ]
