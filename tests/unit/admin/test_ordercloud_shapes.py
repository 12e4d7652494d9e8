"""Pure rules of OrderCloud's shapes: xp merging, error Data, sender reach, vocabularies."""

from __future__ import annotations

import pytest

from api.errors import error_body
from core.admin.collections import merged_xp
from core.delivery.targets import SenderTarget
from core.identity.roles import API_ROLES, MESSAGE_TYPES
from core.models import ADMIN, BUYER
from core.otp.senders import ApplicableSender, ApplicableSenders

HOOK = SenderTarget("Legacy", "webhook")


def test_xp_merges_key_by_key_nested_objects_too_and_null_removes() -> None:
    stored = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": True}
    changes = {"a": 5, "b": {"d": None, "f": 4}, "e": [2], "gone": None, "new": {"x": 1}}

    assert merged_xp(stored, changes) == {"a": 5, "b": {"c": 2, "f": 4}, "e": [2], "new": {"x": 1}}
    assert stored == {"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": True}  # not mutated


@pytest.mark.parametrize("code", ["NotFound", "IdExists"])
@pytest.mark.parametrize("data", [None, {}, {"ObjectType": "Buyer"}, "text"])
def test_object_errors_always_name_the_object_type_and_id(code: str, data: object) -> None:
    (error,) = error_body(code, "m", data)["Errors"]
    assert {"ObjectType", "ObjectID"} <= set(error["Data"])


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


def test_the_sdks_roles_and_message_types_are_known() -> None:
    # A sample of the names the SDK 12 added over the older lists.
    assert {"BundleAdmin", "LocaleAdmin", "OpenIDConnectAdmin", "TrackingEventAdmin"} <= API_ROLES
    assert {"ForgottenUsername", "SubscriptionReminder"} <= MESSAGE_TYPES
