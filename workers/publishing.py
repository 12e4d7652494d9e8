"""Publishing delivery messages: one per delivery, carrying its id and nothing else."""

from __future__ import annotations

from collections.abc import Sequence

import dramatiq

from core.messaging.broker import confirmed_enqueue
from core.messaging.routes import DELIVERY_ROUTES
from core.otp.fanout import PendingDelivery


class BrokerDeliveryPublisher:
    """Sends each delivery to its channel's route (``core.messaging.routes``).

    On RabbitMQ the publish goes over the process's pipelined confirmed connection (as
    the api's does): one I/O thread for every actor thread, each waiting for its own
    confirm, instead of a blocking connection per thread. Other brokers (the in-process
    one of ``otp dev`` and tests) enqueue as usual.
    """

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._enqueue = confirmed_enqueue(broker)

    def publish(self, deliveries: Sequence[PendingDelivery]) -> None:
        for delivery in deliveries:
            self._enqueue(DELIVERY_ROUTES[delivery.channel].message(delivery.id))
