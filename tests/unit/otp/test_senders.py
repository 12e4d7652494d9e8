"""Which OneTimePassword senders apply to whom (core/otp/senders.py)."""

from __future__ import annotations

from core.delivery.targets import SenderTarget
from core.models import ADMIN, BUYER
from core.otp.senders import ApplicableSender, ApplicableSenders

HOOK = SenderTarget("Legacy", "webhook")


def _sender(**reach: object) -> ApplicableSender:
    fields: dict[str, object] = {
        "id": "s",
        "targets": (HOOK,),
        "all_buyers": False,
        "marketplace": False,
        "buyer_ids": frozenset(),
    }
    return ApplicableSender(**{**fields, **reach})  # type: ignore[arg-type]


def test_allow_all_buyers_reaches_buyer_users_of_any_buyer_and_no_admin() -> None:
    sender = _sender(all_buyers=True)
    assert sender.reaches(BUYER, "b1") and sender.reaches(BUYER, "b2")
    assert not sender.reaches(ADMIN, None)
    assert ApplicableSenders((sender,)).configured


def test_assignments_reach_their_buyer_or_everyone_at_marketplace_level() -> None:
    assigned = _sender(buyer_ids=frozenset({"b1"}))
    assert assigned.reaches(BUYER, "b1") and not assigned.reaches(BUYER, "b2")
    marketplace = _sender(marketplace=True)
    assert marketplace.reaches(ADMIN, None) and marketplace.reaches(BUYER, "b2")


def test_a_sender_reaching_nobody_or_delivering_nowhere_configures_nothing() -> None:
    assert not ApplicableSenders((_sender(),)).configured
    assert not ApplicableSenders((_sender(all_buyers=True, targets=()),)).configured
    assert ApplicableSenders((_sender(all_buyers=True),)).targets_for(ADMIN, None) == []
