"""Who is asking for a token: the API client, the user, and what that user may be given.

Everything a grant decides on (the client, the user, their buyer, whether the client
admits them, their security profiles) is read in one statement. Authorization facts
(active, allowed on the client, roles) are gathered before the credential is checked but
only told to the caller after it was right, so a wrong password never reveals whether an
account exists, is inactive or lacks roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, select
from sqlalchemy.orm import aliased

from core.auth.lockout import LockoutPolicy
from core.identity.access import AssignedProfile, granted_roles, held_roles, profile_reaches_user
from core.identity.eligibility import allowed_on_joined_client
from core.identity.passwords import PasswordHasher
from core.models import ApiClient, Buyer, SecurityProfile, SecurityProfileAssignment, User
from core.platform.errors import (
    ClientNotActive,
    InvalidClientSecret,
    RolesNotGranted,
    TokenRequestError,
    UnknownClient,
    UserNotActive,
)


@dataclass(frozen=True)
class ClientRecord:
    """An API client as token grants read it."""

    id: str
    active: bool
    client_secret_hash: str | None
    access_token_duration: int
    refresh_token_duration: int
    default_context_username: str | None


@dataclass(frozen=True)
class UserRecord:
    """A user as token grants read them."""

    id: str
    user_type: str
    username: str
    active: bool
    password_hash: str | None
    locked: bool
    locked_until: datetime | None
    token_version: int


@dataclass(frozen=True)
class GrantFacts:
    """What one read found: the client, and the user with what bears on their sign-in."""

    client: ClientRecord | None
    user: UserRecord | None = None
    buyer_active: bool | None = None  # None: the user belongs to no buyer
    allowed_on_client: bool = False
    profiles: tuple[AssignedProfile, ...] = ()


_CLIENT_COLUMNS = (
    ApiClient.id,
    ApiClient.active,
    ApiClient.client_secret_hash,
    ApiClient.access_token_duration,
    ApiClient.refresh_token_duration,
    ApiClient.default_context_username,
)
_USER_COLUMNS = (
    User.id,
    User.user_type,
    User.username,
    User.active,
    User.password_hash,
    User.locked,
    User.locked_until,
    User.token_version,
)
_PROFILE_COLUMNS = (
    SecurityProfile.id,
    SecurityProfile.roles,
    SecurityProfile.custom_roles,
    SecurityProfile.password_config,
)
# The user's own buyer, aliased apart from the eligibility rule's subquery over buyers.
_UserBuyer = aliased(Buyer)
_USER_AT = len(_CLIENT_COLUMNS)
_BUYER_AT = _USER_AT + len(_USER_COLUMNS)
_PROFILE_AT = _BUYER_AT + 2


def _facts_query(user_matches: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """One row per profile reaching the user (at least one row when the client exists)."""
    return (
        select(
            *_CLIENT_COLUMNS,
            *_USER_COLUMNS,
            _UserBuyer.active,
            allowed_on_joined_client(),
            *_PROFILE_COLUMNS,
        )
        .select_from(ApiClient)
        .outerjoin(User, user_matches)
        .outerjoin(_UserBuyer, _UserBuyer.id == User.buyer_id)
        .outerjoin(SecurityProfileAssignment, profile_reaches_user())
        .outerjoin(
            SecurityProfile, SecurityProfile.id == SecurityProfileAssignment.security_profile_id
        )
        .where(ApiClient.id == bindparam("client_id"))
    )


# Usernames are unique across the marketplace, case-insensitively.
_BY_USERNAME = _facts_query(func.lower(User.username) == bindparam("username_lower"))
_BY_USER_ID = _facts_query(User.id == bindparam("subject_id"))


def read_grant_facts(
    connection: Connection,
    client_id: str | None,
    *,
    username: str | None = None,
    user_id: str | None = None,
) -> GrantFacts:
    """The client ``client_id`` and the user named ``username`` (or with ``user_id``);
    with neither, only the client."""
    if not client_id:
        return GrantFacts(client=None)
    if user_id is not None:
        rows = connection.execute(
            _BY_USER_ID, {"client_id": client_id, "subject_id": user_id}
        ).all()
    else:
        lowered = username.lower() if username is not None else None
        rows = connection.execute(
            _BY_USERNAME, {"client_id": client_id, "username_lower": lowered}
        ).all()
    if not rows:
        return GrantFacts(client=None)
    first = rows[0]
    client = ClientRecord(*first[:_USER_AT])
    if first[_USER_AT] is None:
        return GrantFacts(client=client)
    profiles = {
        row[_PROFILE_AT]: AssignedProfile(
            id=row[_PROFILE_AT],
            roles=list(row[_PROFILE_AT + 1] or []),
            custom_roles=list(row[_PROFILE_AT + 2] or []),
            password_config=dict(row[_PROFILE_AT + 3] or {}),
        )
        for row in rows
        if row[_PROFILE_AT] is not None
    }
    return GrantFacts(
        client=client,
        user=UserRecord(*first[_USER_AT:_BUYER_AT]),
        buyer_active=first[_BUYER_AT],
        allowed_on_client=bool(first[_BUYER_AT + 1]),
        profiles=tuple(profiles[key] for key in sorted(profiles)),
    )


def authenticate_client(
    hasher: PasswordHasher,
    client: ClientRecord | None,
    client_secret: str | None,
    *,
    secret_required: bool = False,
) -> ClientRecord:
    """The active client; its secret is checked whenever it has one (or must have one).

    Client secrets are stored as argon2id hashes made by :class:`PasswordHasher`.
    """
    if client is None:
        raise UnknownClient()
    if not client.active:
        raise ClientNotActive()
    if client.client_secret_hash is None:
        if secret_required:
            raise InvalidClientSecret("This client has no secret; the grant needs one.")
        return client
    if not client_secret or not hasher.verify(client.client_secret_hash, client_secret):
        raise InvalidClientSecret()
    return client


@dataclass(frozen=True)
class LoginSubject:
    """A user as a token grant sees them; ``refusal`` is raised once the credential is right."""

    user: UserRecord
    roles: list[str]
    policy: LockoutPolicy
    refusal: TokenRequestError | None


def login_subject(facts: GrantFacts, requested_roles: Sequence[str] | None) -> LoginSubject | None:
    """Roles the token would carry, the lockout policy, and why it must be refused if so;
    ``None`` when no such user exists."""
    user = facts.user
    if user is None:
        return None
    roles = granted_roles(held_roles(facts.profiles), requested_roles)
    refusal: TokenRequestError | None = None
    if not user.active or facts.buyer_active is False:
        refusal = UserNotActive()
    elif not facts.allowed_on_client:
        refusal = RolesNotGranted("The user may not sign in through this API client.")
    elif not roles:
        refusal = RolesNotGranted("The user holds none of the requested roles.")
    return LoginSubject(
        user=user, roles=roles, policy=LockoutPolicy.from_profiles(facts.profiles), refusal=refusal
    )
