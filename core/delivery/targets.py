"""Where a message sender delivers (docs/admin-api.md): its targets and their channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.messaging.routes import CONSOLE, EMAIL, WEBHOOK
from core.models import DeliveryConfig, MessageSender

LEGACY_TARGET = "Legacy"  # MessageSender.URL + SharedKey
CONFIG_TARGETS = {"MessageSender": WEBHOOK, "Http": WEBHOOK, "Smtp": EMAIL, "Console": CONSOLE}


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
