"""What a user may do: the security profiles assigned to them and the roles those grant.

A profile reaches a user through an assignment at marketplace level (no buyer, no user),
to the user's buyer, or to the user. As in OrderCloud, marketplace-level assignments
apply to admin (seller) users only: otherwise ``otp bootstrap``'s marketplace FullAccess
profile would hand every buyer user full access.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from core.identity.roles import FULL_ACCESS, ROLES_FULL_ACCESS_GRANTS
from core.models import BUYER, SecurityProfileAssignment, User


def profile_reaches_user() -> ColumnElement[bool]:
    """A join condition over ``SecurityProfileAssignment`` and ``User``: the assignment
    reaches the user (to them, to their buyer, or at marketplace level for admin users)."""
    Assignment = SecurityProfileAssignment  # noqa: N806 - an alias for the mapped class
    to_user = Assignment.user_id == User.id
    to_buyer = and_(
        User.user_type == BUYER, Assignment.buyer_id == User.buyer_id, Assignment.user_id.is_(None)
    )
    to_marketplace = and_(
        User.user_type != BUYER, Assignment.buyer_id.is_(None), Assignment.user_id.is_(None)
    )
    return or_(to_user, to_buyer, to_marketplace)


@dataclass(frozen=True)
class AssignedProfile:
    """A security profile that reaches a user, as token grants read it."""

    id: str
    roles: list[str]
    custom_roles: list[str]
    password_config: dict[str, Any]


def held_roles(profiles: Iterable[AssignedProfile]) -> frozenset[str]:
    """The union of the profiles' Roles and CustomRoles."""
    roles: set[str] = set()
    for profile in profiles:
        roles.update(str(role) for role in profile.roles or [])
        roles.update(str(role) for role in profile.custom_roles or [])
    return frozenset(roles)


def granted_roles(held: frozenset[str], requested: Sequence[str] | None) -> list[str]:
    """The roles a token carries: all held ones without a scope, else scope ∩ held.

    FullAccess stands for each of ``ROLES_FULL_ACCESS_GRANTS``, so a FullAccess user asking for
    ``scope=BuyerReader`` gets BuyerReader. The order follows the request (or is sorted).
    """
    if requested is None:
        return sorted(held)
    granted: list[str] = []
    for role in requested:
        implied = FULL_ACCESS in held and role in ROLES_FULL_ACCESS_GRANTS
        if (role in held or implied) and role not in granted:
            granted.append(role)
    return granted
