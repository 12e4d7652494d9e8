"""Where a message sender delivers (docs/admin-api.md): its targets and their channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.messaging.routes import CONSOLE, EMAIL, WEBHOOK

LEGACY_TARGET = "Legacy"  # MessageSender.URL + SharedKey
CONFIG_TARGETS = {"MessageSender": WEBHOOK, "Http": WEBHOOK, "Smtp": EMAIL, "Console": CONSOLE}


class SenderFields(Protocol):
    """A message sender as far as its targets go: the ORM model or a delivery's record."""

    @property
    def url(self) -> str | None: ...
    @property
    def shared_key(self) -> str | None: ...
    @property
    def delivery_config_id(self) -> str | None: ...


class ConfigFields(Protocol):
    """A delivery config as far as its targets go: the ORM model or a delivery's record."""

    @property
    def id(self) -> str: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def delivery_targets(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SenderTarget:
    """One place a sender delivers to: ``target`` names it, ``channel`` says how."""

    target: str
    channel: str


def sender_targets(
    sender: SenderFields, config: ConfigFields | None, *, dev_mode: bool
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
    sender: SenderFields, config: ConfigFields | None, target: str
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
