"""SQLAlchemy models for every table of docs/architecture.md."""

from core.models.base import Base, utcnow
from core.models.identity import (
    ADMIN,
    BUYER,
    ApiClient,
    ApiClientAssignment,
    AuthEvent,
    Buyer,
    RefreshToken,
    SecurityProfile,
    SecurityProfileAssignment,
    User,
)
from core.models.messaging import (
    DELIVERED,
    DELIVERY_STATUSES,
    EXPIRED,
    FAILED,
    ONE_TIME_PASSWORD,
    PENDING,
    Delivery,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
    OneTimePassword,
)

__all__ = [
    "ADMIN",
    "BUYER",
    "DELIVERED",
    "DELIVERY_STATUSES",
    "EXPIRED",
    "FAILED",
    "ONE_TIME_PASSWORD",
    "PENDING",
    "ApiClient",
    "ApiClientAssignment",
    "AuthEvent",
    "Base",
    "Buyer",
    "Delivery",
    "DeliveryConfig",
    "MessageSender",
    "MessageSenderAssignment",
    "OneTimePassword",
    "RefreshToken",
    "SecurityProfile",
    "SecurityProfileAssignment",
    "User",
    "utcnow",
]
