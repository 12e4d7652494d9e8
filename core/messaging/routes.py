"""The one routing table: every queue, the actor that consumes it, and its delivery channel.

Publishers address messages by the names here (the api never imports an actor), and
``workers.actors`` declares one actor per route. A delivery route also names the channel
(``core.delivery.channels``) its actor sends through; the fan-out route has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dramatiq

# Delivery channels: the value of ``Delivery.channel`` and of a sender target's channel.
WEBHOOK = "webhook"
EMAIL = "email"
CONSOLE = "console"


@dataclass(frozen=True)
class Route:
    """A queue, the actor consuming it and, for a delivery route, the channel it sends by."""

    queue_name: str
    actor_name: str
    channel: str | None = None

    def message(self, *args: Any) -> dramatiq.Message[Any]:
        """A message for this route's actor with these positional arguments."""
        return dramatiq.Message(
            queue_name=self.queue_name, actor_name=self.actor_name, args=args, kwargs={}, options={}
        )


# The fan-out: one OtpRequested event in, OTPs and their delivery rows out.
ISSUE_OTPS = Route("otp.requests", "issue_otps")
# The deliveries: one message per delivery row, carrying its id only.
DELIVER_WEBHOOK = Route("otp.deliveries.webhook", "deliver_webhook", WEBHOOK)
DELIVER_EMAIL = Route("otp.deliveries.email", "deliver_email", EMAIL)
DELIVER_CONSOLE = Route("otp.deliveries.console", "deliver_console", CONSOLE)

DELIVERY_ROUTES: dict[str, Route] = {
    route.channel: route
    for route in (DELIVER_WEBHOOK, DELIVER_EMAIL, DELIVER_CONSOLE)
    if route.channel is not None
}
ALL_ROUTES = (ISSUE_OTPS, *DELIVERY_ROUTES.values())

REQUESTS_QUEUE = ISSUE_OTPS.queue_name
ALL_QUEUES = tuple(route.queue_name for route in ALL_ROUTES)
