"""Who may do what on the admin API: the rules, written once (docs/authorization.md).

:data:`RULES` is the table: for each admin resource, the roles that read and write it
(FullAccess always does) and the operations a *buyer* user may reach, each tied to the
path parameter naming the buyer it acts in. Everything not listed there is for admin
(seller) users only, whatever roles a buyer user's token carries.

:func:`authorize` applies the table to one request, in this order:

1. roles: none sufficient → 403 ``InsufficientRoles`` (the answer does not depend on
   any object, so it reveals nothing);
2. user type: a buyer user on a seller-only operation → 403 ``InsufficientRoles``;
3. buyer scope: a buyer user acting in another buyer → 404, exactly the answer for a
   buyer that does not exist.

The grant rules (nobody gives roles they do not hold; nobody manages a user who holds
roles they lack) need the objects concerned and run inside the write's transaction:
:func:`check_grantable`, :func:`check_profile_assignment`, :func:`check_user_manageable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.identity.access import profile_reaches_user
from core.identity.roles import FULL_ACCESS
from core.models import ADMIN, MessageSender, SecurityProfile, SecurityProfileAssignment, User
from core.platform.errors import InsufficientRoles, NotFound


class Verb(StrEnum):
    """What a request does to a resource; the rules table is written in these."""

    LIST = "list"
    GET = "get"
    CREATE = "create"
    UPDATE = "update"  # PUT and PATCH
    DELETE = "delete"
    ACTION = "action"  # a write on one object: unlock, revoke its tokens

    @property
    def writes(self) -> bool:
        return self not in (Verb.LIST, Verb.GET)


EVERY_VERB = frozenset(Verb)


@dataclass(frozen=True)
class Principal:
    """Whom a request's token speaks for, as the database says now (type, buyer)."""

    user_id: str
    username: str
    user_type: str  # "admin" | "buyer"
    buyer_id: str | None
    client_id: str
    roles: tuple[str, ...]  # as the token lists them

    def holds(self, role: str) -> bool:
        return FULL_ACCESS in self.roles or role in self.roles


@dataclass(frozen=True)
class ResourceRules:
    """Roles that read and write a resource, and what buyer users may reach of it."""

    read: frozenset[str]
    write: frozenset[str]
    # Verbs open to buyer users, each within the buyer named by this path parameter.
    buyer_reach: Mapping[Verb, str] = field(default_factory=dict)

    @classmethod
    def family(
        cls,
        name: str,
        *,
        reader: bool = True,
        buyer_reach: Mapping[Verb, str] | None = None,
    ) -> ResourceRules:
        """OrderCloud's ``<Name>Admin`` writes and reads, ``<Name>Reader`` reads."""
        admin = f"{name}Admin"
        readers = {admin, f"{name}Reader"} if reader else {admin}
        return cls(frozenset(readers), frozenset({admin}), buyer_reach or {})

    def sufficient(self, operation: Verb) -> frozenset[str]:
        return frozenset({FULL_ACCESS, *(self.write if operation.writes else self.read)})


def _within(parameter: str, operations: Iterable[Verb]) -> dict[Verb, str]:
    return dict.fromkeys(operations, parameter)


RULES: Mapping[str, ResourceRules] = {
    # Seller-only resources: no buyer reach.
    "ApiClient": ResourceRules.family("ApiClient"),
    "ApiClientAssignment": ResourceRules.family("ApiClient"),
    "AdminUser": ResourceRules.family("AdminUser"),
    "SecurityProfile": ResourceRules.family("SecurityProfile"),
    "SecurityProfileAssignment": ResourceRules(
        read=frozenset({"SecurityProfileAdmin", "SecurityProfileReader", "SetSecurityProfile"}),
        write=frozenset({"SetSecurityProfile"}),
    ),
    "MessageSender": ResourceRules.family("MessageSender"),
    "MessageSenderAssignment": ResourceRules(
        read=frozenset(
            {"MessageSenderAdmin", "MessageSenderReader", "MessageConfigAssignmentAdmin"}
        ),
        write=frozenset({"MessageConfigAssignmentAdmin"}),
    ),
    # Previews read the stored templates; unsaved overrides are a write (they run code).
    "MessagePreview": ResourceRules.family("MessageSender"),
    "DeliveryConfig": ResourceRules.family("DeliveryConfig", reader=False),
    "Delivery": ResourceRules.family("MessageSender"),
    # A buyer user reads and updates its own buyer; listing, creating and deleting
    # buyers is for admin users.
    "Buyer": ResourceRules.family("Buyer", buyer_reach=_within("id", (Verb.GET, Verb.UPDATE))),
    # A buyer user's admin roles reach its own buyer's users.
    "BuyerUser": ResourceRules.family("BuyerUser", buyer_reach=_within("buyerID", EVERY_VERB)),
}


def insufficient(
    message: str, sufficient: Iterable[str], principal: Principal
) -> InsufficientRoles:
    return InsufficientRoles(
        message,
        data={"SufficientRoles": sorted(sufficient), "AssignedRoles": sorted(principal.roles)},
    )


def authorize(
    principal: Principal, resource: str, operation: Verb, path: Mapping[str, str]
) -> None:
    """Roles, then user type, then buyer scope (see the module's docstring); raises."""
    rules = RULES[resource]
    sufficient = rules.sufficient(operation)
    if not any(principal.holds(role) for role in sufficient):
        raise insufficient(
            "The token does not hold a role this action needs.", sufficient, principal
        )
    if principal.user_type == ADMIN:
        return
    buyer_parameter = rules.buyer_reach.get(operation)
    if buyer_parameter is None:
        raise insufficient("This action is for admin (seller) users only.", sufficient, principal)
    buyer_id = path[buyer_parameter]
    if buyer_id != principal.buyer_id:
        raise NotFound(
            f"Buyer not found: {buyer_id}", data={"ObjectType": "Buyer", "ObjectID": buyer_id}
        )


# --- grant rules --------------------------------------------------------------------


def roles_not_held(principal: Principal, roles: Iterable[str]) -> list[str]:
    """The roles in ``roles`` the caller does not hold (FullAccess holds every role)."""
    if FULL_ACCESS in principal.roles:
        return []
    return sorted({role for role in roles if role not in principal.roles})


def check_grantable(principal: Principal, roles: Iterable[str], what: str) -> None:
    """403 unless the caller holds every role it is about to give."""
    missing = roles_not_held(principal, roles)
    if missing:
        raise InsufficientRoles(
            f"{what} would give roles the token does not hold: {', '.join(missing)}.",
            data={"RolesNotHeld": missing, "AssignedRoles": sorted(principal.roles)},
        )


def profile_roles(session: Session, profile_id: str) -> list[str]:
    profile = session.get(SecurityProfile, profile_id)
    if profile is None:
        return []
    return [*(profile.roles or []), *(profile.custom_roles or [])]


def check_profile_edit(
    session: Session,
    principal: Principal,
    profile_id: str | None,
    scope: Mapping[str, str],
    values: Mapping[str, object],
) -> None:
    """A profile created or edited may gain only roles the caller holds."""
    before = set(profile_roles(session, profile_id)) if profile_id is not None else set()
    after: set[str] = set()
    for key in ("roles", "custom_roles"):
        value = values.get(key)
        if isinstance(value, list):
            after.update(str(role) for role in value)
    check_grantable(principal, after - before, "This security profile")


def check_elevated_roles(
    session: Session,
    principal: Principal,
    sender_id: str | None,
    scope: Mapping[str, str],
    values: Mapping[str, object],
) -> None:
    """A message sender's ElevatedRoles go to the tokens it is given: the same rule."""
    sender = session.get(MessageSender, sender_id) if sender_id is not None else None
    before = set(sender.elevated_roles or []) if sender is not None else set()
    value = values.get("elevated_roles")
    after = {str(role) for role in value} if isinstance(value, list) else set()
    check_grantable(principal, after - before, "This message sender")


def check_profile_assignment(
    session: Session, principal: Principal, values: Mapping[str, object]
) -> None:
    """An assignment gives the profile's roles: the caller must hold them all (so nobody
    assigns themselves a profile with a role they lack)."""
    profile_id = values.get("security_profile_id")
    if isinstance(profile_id, str):
        check_grantable(principal, profile_roles(session, profile_id), "This assignment")


def user_held_roles(session: Session, user_id: str) -> frozenset[str]:
    """Every role the user's assigned profiles give (what their next token could carry)."""
    rows = session.execute(
        select(SecurityProfile.roles, SecurityProfile.custom_roles)
        .select_from(User)
        .join(SecurityProfileAssignment, profile_reaches_user())
        .join(SecurityProfile, SecurityProfile.id == SecurityProfileAssignment.security_profile_id)
        .where(User.id == user_id)
    ).all()
    roles: set[str] = set()
    for granted, custom in rows:
        roles.update(str(role) for role in granted or [])
        roles.update(str(role) for role in custom or [])
    return frozenset(roles)


def roles_of_a_new_user(session: Session, buyer_id: str | None) -> frozenset[str]:
    """What a user created now would hold at once: the buyer-level profiles of its buyer
    (a buyer user), or the marketplace-level ones (an admin user)."""
    level = (
        SecurityProfileAssignment.buyer_id == buyer_id
        if buyer_id is not None
        else SecurityProfileAssignment.buyer_id.is_(None)
    )
    rows = session.execute(
        select(SecurityProfile.roles, SecurityProfile.custom_roles)
        .join(
            SecurityProfileAssignment,
            SecurityProfileAssignment.security_profile_id == SecurityProfile.id,
        )
        .where(level, SecurityProfileAssignment.user_id.is_(None))
    ).all()
    return frozenset(str(role) for granted, custom in rows for role in [*granted, *custom])


def check_user_manageable(
    session: Session,
    principal: Principal,
    user_id: str | None,
    scope: Mapping[str, str],
    values: Mapping[str, object],
) -> None:
    """Creating, editing (password, email, active, ...) or deleting a user needs every role
    that user holds (or, when created, would hold at once): whoever could sign in as a
    user, or take one over, must already be at least that user."""
    if user_id is None:
        held = roles_of_a_new_user(session, scope.get("buyer_id"))
        subject = "A user created here"
    else:
        held = user_held_roles(session, user_id)
        subject = f"User {user_id}"
    missing = roles_not_held(principal, held)
    if missing:
        raise InsufficientRoles(
            f"{subject} holds roles the token does not: {', '.join(missing)}.",
            data={"RolesNotHeld": missing, "AssignedRoles": sorted(principal.roles)},
        )
