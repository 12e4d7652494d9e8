"""Publishing delivery messages: one per delivery, carrying its id and nothing else."""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq

from core.issuance import PendingDelivery
from core.targets import ROUTES


class BrokerDeliveryPublisher:
    """Sends each delivery to its channel's queue and actor (core.targets.ROUTES)."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def publish(self, deliveries: Sequence[PendingDelivery]) -> None:
        for delivery in deliveries:
            route = ROUTES[delivery.channel]
            self._broker.enqueue(
                dramatiq.Message(
                    queue_name=route.queue_name,
                    actor_name=route.actor_name,
                    args=(delivery.id,),
                    kwargs={},
                    options={},
                )
            )
