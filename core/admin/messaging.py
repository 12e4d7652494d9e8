"""Admin rules for message senders, delivery configs, sender assignments and deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.orm import Session

from core.admin.assignments import AssignmentStore
from core.admin.collections import CollectionStore, without_nulls
from core.admin.list_filters import Fields
from core.delivery.address_policy import AddressPolicy
from core.delivery.templates import check_template_overrides
from core.models import (
    Buyer,
    Delivery,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
    User,
)
from core.models.secrets import TARGET_SECRET_FIELDS
from core.platform.errors import InUse, InvalidRequest

# Webhook targets sign every message, so they cannot work without a secret.
_SIGNED_TARGETS = ("MessageSender", "Http")


class MessageSenderStore(CollectionStore[MessageSender]):
    model = MessageSender
    object_type = "MessageSender"
    fields: ClassVar[Fields] = {
        "ID": MessageSender.id,
        "Name": MessageSender.name,
        "Description": MessageSender.description,
        "URL": MessageSender.url,
        "DeliveryConfigID": MessageSender.delivery_config_id,
        "AllowAllBuyers": MessageSender.allow_all_buyers,
        "DateCreated": MessageSender.created_at,
    }
    search_fields = ("ID", "Name", "Description")

    def __init__(self, *, address_policy: AddressPolicy | None = None) -> None:
        self.address_policy = address_policy or AddressPolicy(blocked=())

    def apply(self, session: Session, row: MessageSender, values: Mapping[str, Any]) -> None:
        fields = dict(values)
        if "template_overrides" in fields:
            row.template_overrides = without_nulls(fields.pop("template_overrides"))
        super().apply(session, row, fields)

    def check(self, session: Session, row: MessageSender) -> None:
        """Legacy form needs URL and SharedKey; the current form an existing delivery config."""
        if row.delivery_config_id is not None:
            if session.get(DeliveryConfig, row.delivery_config_id) is None:
                raise InvalidRequest(
                    f"Delivery config not found: {row.delivery_config_id}",
                    data={"Field": "DeliveryConfigID"},
                    error_code="MessageSenders.DeliveryConfigNotFound",
                )
        else:
            if not row.url:
                raise InvalidRequest(
                    "URL is required when no DeliveryConfigID is given.",
                    data={"Field": "URL"},
                    error_code="MessageSenders.UrlRequired",
                )
            if not row.shared_key:
                raise InvalidRequest(
                    "SharedKey is required when no DeliveryConfigID is given.",
                    data={"Field": "SharedKey"},
                    error_code="MessageSenders.SharedKeyRequired",
                )
        if row.url:
            refuse_blocked_host(self.address_policy, url_host(row.url), "URL")
        check_template_overrides(row.template_overrides or {})


class DeliveryConfigStore(CollectionStore[DeliveryConfig]):
    model = DeliveryConfig
    object_type = "DeliveryConfig"
    fields: ClassVar[Fields] = {
        "ID": DeliveryConfig.id,
        "Name": DeliveryConfig.name,
        "Enabled": DeliveryConfig.enabled,
        "DateCreated": DeliveryConfig.created_at,
    }
    search_fields = ("ID", "Name")

    def __init__(self, *, allow_console: bool, address_policy: AddressPolicy | None = None) -> None:
        self.allow_console = allow_console
        self.address_policy = address_policy or AddressPolicy(blocked=())

    def apply(self, session: Session, row: DeliveryConfig, values: Mapping[str, Any]) -> None:
        fields = dict(values)
        if "delivery_targets" in fields:
            row.delivery_targets = merge_target_secrets(
                row.delivery_targets or {}, fields.pop("delivery_targets") or {}
            )
        super().apply(session, row, fields)

    def check_delete(self, session: Session, row: DeliveryConfig) -> None:
        # The foreign key would null the senders' DeliveryConfigID and leave them with
        # nowhere to deliver; the admin re-points or deletes them first.
        senders = session.scalars(
            select(MessageSender.id).where(MessageSender.delivery_config_id == row.id)
        ).all()
        if senders:
            raise InUse(
                f"Message senders still deliver through {row.id}: {', '.join(senders)}",
                data={"ObjectType": "MessageSender", "ObjectIDs": list(senders)},
            )

    def check(self, session: Session, row: DeliveryConfig) -> None:
        targets = {
            name: target for name, target in row.delivery_targets.items() if target is not None
        }
        if not targets:
            raise InvalidRequest(
                "DeliveryTargets needs at least one target.",
                data={"Field": "DeliveryTargets"},
                error_code="DeliveryConfig.TargetRequired",
            )
        if "Console" in targets and not self.allow_console:
            raise InvalidRequest(
                "The Console target prints messages and is accepted in dev mode only.",
                data={"Field": "DeliveryTargets.Console"},
                error_code="DeliveryConfig.ConsoleTargetNotAllowed",
            )
        for name in _SIGNED_TARGETS:
            if name in targets:
                host = url_host(str(targets[name].get("Endpoint") or ""))
                field = f"DeliveryTargets.{name}.Endpoint"
                refuse_blocked_host(self.address_policy, host, field)
        if "Smtp" in targets:
            host = str(targets["Smtp"].get("Host") or "")
            refuse_blocked_host(self.address_policy, host, "DeliveryTargets.Smtp.Host")
        for name in _SIGNED_TARGETS:
            if name in targets and not targets[name].get("Secret"):
                raise InvalidRequest(
                    f"DeliveryTargets.{name}.Secret is required: webhooks are signed with it.",
                    data={"Field": f"DeliveryTargets.{name}.Secret"},
                    error_code="DeliveryConfig.SecretRequired",
                )


def url_host(url: str) -> str:
    """The host of an endpoint URL as written (``[::1]`` → ``::1``); empty if it has none."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def refuse_blocked_host(policy: AddressPolicy, host: str, field: str) -> None:
    """400 when ``host`` is written as an address (or ``localhost``) in a blocked network.

    Names are checked again on every connection, after resolution: this only spares an
    admin a target that could never deliver.
    """
    refusal = policy.literal_refusal(host)
    if refusal is not None:
        raise InvalidRequest(f"{field}: {refusal}.", data={"Field": field, "Reason": refusal})


def merge_target_secrets(stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """The incoming targets, with each secret they leave out (or null) taken from storage."""
    merged: dict[str, Any] = {}
    for name, given in incoming.items():
        if given is None:
            continue
        target = dict(given)
        previous = stored.get(name) or {}
        for secret in TARGET_SECRET_FIELDS.get(name, ()):
            if target.get(secret) is None and previous.get(secret) is not None:
                target[secret] = previous[secret]
        merged[name] = target
    return merged


class DeliveryStore(CollectionStore[Delivery]):
    """Read-only: what happened to each message. Rows hold no code, so none can leak."""

    model = Delivery
    object_type = "Delivery"
    fields: ClassVar[Fields] = {
        "ID": Delivery.id,
        "SenderID": Delivery.sender_id,
        "RequestID": Delivery.request_id,
        "Channel": Delivery.channel,
        "CreatedAt": Delivery.created_at,
        "UpdatedAt": Delivery.updated_at,
        "Status": Delivery.status,
        "Attempts": Delivery.attempts,
    }
    search_fields = ("ID", "SenderID", "RequestID")

    def filter_clauses(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if filters.get("status") is not None:
            clauses.append(Delivery.status == filters["status"])
        if filters.get("sender") is not None:
            clauses.append(Delivery.sender_id == filters["sender"])
        if filters.get("username") is not None:
            users = select(User.id).where(
                func.lower(User.username) == str(filters["username"]).lower()
            )
            clauses.append(Delivery.user_id.in_(users))
        if filters.get("created_from") is not None:
            clauses.append(Delivery.created_at >= filters["created_from"])
        if filters.get("created_to") is not None:
            clauses.append(Delivery.created_at < filters["created_to"])
        return clauses


class MessageSenderAssignmentStore(AssignmentStore[MessageSenderAssignment]):
    """Marketplace level when BuyerID is null, otherwise that buyer's users."""

    model = MessageSenderAssignment
    keys = ("message_sender_id", "buyer_id")

    def filter_clauses(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        """OrderCloud's ``level``: every sender assignment here is at Company level."""
        clauses = super().filter_clauses(filters)
        if filters.get("level") == "Group":
            clauses.append(false())
        return clauses

    references: ClassVar[Mapping[str, tuple[type[Any], str]]] = {
        "message_sender_id": (MessageSender, "MessageSender"),
        "buyer_id": (Buyer, "Buyer"),
    }
