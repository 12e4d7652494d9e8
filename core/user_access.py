"""What a user may do: the security profiles assigned to them and the roles those grant.

A profile reaches a user through an assignment at marketplace level (no buyer, no user),
to the user's buyer, or to the user. As in OrderCloud, marketplace-level assignments
apply to admin (seller) users only: otherwise ``otp bootstrap``'s marketplace FullAccess
profile would hand every buyer user full access.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.models import BUYER, SecurityProfile, SecurityProfileAssignment, User

FULL_ACCESS = "FullAccess"

# OrderCloud's ApiRole names this service knows (API.md). FullAccess implies each of
# them when requested by scope; custom roles are granted only when a profile holds them.
API_ROLES = frozenset(
    {
        FULL_ACCESS,
        "ApiClientAdmin",
        "ApiClientReader",
        "BuyerAdmin",
        "BuyerReader",
        "BuyerUserAdmin",
        "BuyerUserReader",
        "AdminUserAdmin",
        "AdminUserReader",
        "SecurityProfileAdmin",
        "SecurityProfileReader",
        "SetSecurityProfile",
        "MessageSenderAdmin",
        "MessageSenderReader",
        "MessageConfigAssignmentAdmin",
        "DeliveryConfigAdmin",
        "Shopper",
        "MeAdmin",
    }
)


def assigned_profiles(session: Session, user: User) -> Sequence[SecurityProfile]:
    """Every security profile that applies to ``user`` (each once)."""
    Assignment = SecurityProfileAssignment  # noqa: N806 - an alias for the mapped class
    to_user = Assignment.user_id == user.id
    if user.user_type == BUYER:
        to_group = and_(Assignment.buyer_id == user.buyer_id, Assignment.user_id.is_(None))
    else:
        to_group = and_(Assignment.buyer_id.is_(None), Assignment.user_id.is_(None))
    query = (
        select(SecurityProfile)
        .where(
            SecurityProfile.id.in_(
                select(Assignment.security_profile_id).where(or_(to_user, to_group))
            )
        )
        .order_by(SecurityProfile.id)
    )
    return session.scalars(query).all()


def held_roles(profiles: Iterable[SecurityProfile]) -> frozenset[str]:
    """The union of the profiles' Roles and CustomRoles."""
    roles: set[str] = set()
    for profile in profiles:
        roles.update(str(role) for role in profile.roles or [])
        roles.update(str(role) for role in profile.custom_roles or [])
    return frozenset(roles)


def granted_roles(held: frozenset[str], requested: Sequence[str] | None) -> list[str]:
    """The roles a token carries: all held ones without a scope, else scope ∩ held.

    FullAccess stands for every API role, so a FullAccess user asking for
    ``scope=BuyerReader`` gets BuyerReader. The order follows the request (or is sorted).
    """
    if requested is None:
        return sorted(held)
    granted: list[str] = []
    for role in requested:
        implied = FULL_ACCESS in held and role in API_ROLES
        if (role in held or implied) and role not in granted:
            granted.append(role)
    return granted
