"""Which OneTimePassword senders apply to whom: the one rule the intake and the fan-out share.

A message sender applies to a user when it lists MessageType ``OneTimePassword``, delivers
somewhere now (a legacy URL, or an enabled delivery config with a target this process may
use) and reaches the user:

- ``AllowAllBuyers: true`` reaches every buyer's users, with no assignment (OrderCloud's
  way of configuring a marketplace-wide sender);
- an assignment with a ``BuyerID`` reaches that buyer's users;
- an assignment without one (marketplace level) reaches every user, admin users included:
  this is how a sender reaches admin (seller) users.

The intake answers ``NotConfigured`` when no sender applies to anyone; the fan-out sends
each matching user's code through the senders that apply to that user.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.delivery.targets import SenderTarget, sender_targets
from core.models import (
    BUYER,
    ONE_TIME_PASSWORD,
    DeliveryConfig,
    MessageSender,
    MessageSenderAssignment,
)

# (sender id, target) pairs: all a fan-out needs of a sender.
SenderPairs = list[tuple[str, SenderTarget]]


@dataclass(frozen=True)
class ApplicableSender:
    """A OneTimePassword sender's current targets and whom it reaches."""

    id: str
    targets: tuple[SenderTarget, ...]
    all_buyers: bool  # AllowAllBuyers
    marketplace: bool  # has a marketplace-level assignment (no BuyerID)
    buyer_ids: frozenset[str]  # buyers it is assigned to

    def reaches(self, user_type: str, buyer_id: str | None) -> bool:
        if self.marketplace:
            return True
        if user_type != BUYER or buyer_id is None:
            return False
        return self.all_buyers or buyer_id in self.buyer_ids

    @property
    def reaches_anyone(self) -> bool:
        return bool(self.targets) and (self.marketplace or self.all_buyers or bool(self.buyer_ids))


@dataclass(frozen=True)
class ApplicableSenders:
    """Every OneTimePassword sender, in ID order (immutable, so threads share it)."""

    senders: tuple[ApplicableSender, ...]

    def targets_for(self, user_type: str, buyer_id: str | None) -> SenderPairs:
        """The (sender, target) pairs a user's code goes through."""
        return [
            (sender.id, target)
            for sender in self.senders
            if sender.reaches(user_type, buyer_id)
            for target in sender.targets
        ]

    @property
    def configured(self) -> bool:
        """Some sender applies to someone: otherwise the intake answers NotConfigured."""
        return any(sender.reaches_anyone for sender in self.senders)


def load_applicable_senders(session: Session, *, dev_mode: bool) -> ApplicableSenders:
    """The OneTimePassword senders with their delivery configs and assignments (two reads)."""
    rows = session.execute(
        select(MessageSender, DeliveryConfig)
        .outerjoin(DeliveryConfig, DeliveryConfig.id == MessageSender.delivery_config_id)
        .order_by(MessageSender.id)
    ).all()
    # MessageTypes is a JSON list; filtering here keeps the query portable to SQLite
    # (dev mode), and a marketplace has a handful of senders.
    otp_senders = [
        (sender, config)
        for sender, config in rows
        if ONE_TIME_PASSWORD in (sender.message_types or [])
    ]
    assigned: defaultdict[str, set[str | None]] = defaultdict(set)
    if otp_senders:
        assignments = session.execute(
            select(
                MessageSenderAssignment.message_sender_id, MessageSenderAssignment.buyer_id
            ).where(MessageSenderAssignment.message_sender_id.in_([s.id for s, _ in otp_senders]))
        )
        for sender_id, buyer_id in assignments:
            assigned[sender_id].add(buyer_id)
    return ApplicableSenders(
        tuple(
            ApplicableSender(
                id=sender.id,
                targets=tuple(sender_targets(sender, config, dev_mode=dev_mode)),
                all_buyers=bool(sender.allow_all_buyers),
                marketplace=None in assigned[sender.id],
                buyer_ids=frozenset(b for b in assigned[sender.id] if b is not None),
            )
            for sender, config in otp_senders
        )
    )
