"""Where a message sender delivers (docs/admin-api.md): its targets, their channels and queues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.messaging.broker import CONSOLE_QUEUE, EMAIL_QUEUE, WEBHOOK_QUEUE
from core.messaging.events import DELIVER_CONSOLE_ACTOR, DELIVER_EMAIL_ACTOR, DELIVER_WEBHOOK_ACTOR
from core.models import DeliveryConfig, MessageSender

WEBHOOK = "webhook"
EMAIL = "email"
CONSOLE = "console"

LEGACY_TARGET = "Legacy"  # MessageSender.URL + SharedKey
CONFIG_TARGETS = {"MessageSender": WEBHOOK, "Http": WEBHOOK, "Smtp": EMAIL, "Console": CONSOLE}


@dataclass(frozen=True)
class DeliveryRoute:
    """The queue and actor that deliver one channel's messages."""

    queue_name: str
    actor_name: str


ROUTES = {
    WEBHOOK: DeliveryRoute(WEBHOOK_QUEUE, DELIVER_WEBHOOK_ACTOR),
    EMAIL: DeliveryRoute(EMAIL_QUEUE, DELIVER_EMAIL_ACTOR),
    CONSOLE: DeliveryRoute(CONSOLE_QUEUE, DELIVER_CONSOLE_ACTOR),
}


@dataclass(frozen=True)
class SenderTarget:
    """One place a sender delivers to: ``target`` names it, ``channel`` says how."""

    target: str
    channel: str


def sender_targets(
    sender: MessageSender, config: DeliveryConfig | None, *, dev_mode: bool
) -> list[SenderTarget]:
    """The targets a sender delivers to now; none when its delivery config is disabled.

    Console targets print the code, so they count only in dev mode even if one slipped
    into a production database.
    """
    if sender.delivery_config_id is not None:
        if config is None or not config.enabled:
            return []
        targets = config.delivery_targets or {}
        return [
            SenderTarget(name, channel)
            for name, channel in CONFIG_TARGETS.items()
            if isinstance(targets.get(name), dict) and (channel != CONSOLE or dev_mode)
        ]
    if sender.url:
        return [SenderTarget(LEGACY_TARGET, WEBHOOK)]
    return []


def target_settings(
    sender: MessageSender, config: DeliveryConfig | None, target: str
) -> dict[str, Any] | None:
    """A target's settings (Endpoint, Secret, ...) as they are now; None if it is gone."""
    if target == LEGACY_TARGET:
        if sender.url is None:
            return None
        return {"Endpoint": sender.url, "Secret": sender.shared_key}
    if config is None or sender.delivery_config_id != config.id or not config.enabled:
        return None
    settings = (config.delivery_targets or {}).get(target)
    return settings if isinstance(settings, dict) else None
