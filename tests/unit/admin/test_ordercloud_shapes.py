"""Pure rules of OrderCloud's shapes: xp merging, error Data, vocabularies."""

from __future__ import annotations

import pytest

from api.errors import error_body
from core.admin.collections import merged_xp
from core.identity.roles import MESSAGE_TYPES, ORDERCLOUD_API_ROLES


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


def test_the_sdks_roles_and_message_types_are_known() -> None:
    # A sample of the names the SDK 12 added over the older lists.
    added = {"BundleAdmin", "LocaleAdmin", "OpenIDConnectAdmin", "TrackingEventAdmin"}
    assert added <= ORDERCLOUD_API_ROLES
    assert {"ForgottenUsername", "SubscriptionReminder"} <= MESSAGE_TYPES
