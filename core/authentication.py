"""Who is asking for a token: the API client, the user, and what that user may be given.

Authorization facts (active, allowed on the client, roles) are gathered before the
credential is checked but only told to the caller after it was right, so a wrong password
never reveals whether an account exists, is inactive or lacks roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.eligibility import is_allowed_on_client
from core.errors import (
    ClientNotActive,
    InvalidClientSecret,
    RolesNotGranted,
    TokenRequestError,
    UnknownClient,
    UserNotActive,
)
from core.lockout import LockoutPolicy
from core.models import ApiClient, Buyer, User
from core.passwords import PasswordHasher
from core.user_access import assigned_profiles, granted_roles, held_roles


def authenticate_client(
    session: Session,
    hasher: PasswordHasher,
    client_id: str | None,
    client_secret: str | None,
    *,
    secret_required: bool = False,
) -> ApiClient:
    """The active client; its secret is checked whenever it has one (or must have one).

    Client secrets are stored as argon2id hashes made by :class:`PasswordHasher`.
    """
    client = session.get(ApiClient, client_id) if client_id else None
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


def find_user(session: Session, username: str) -> User | None:
    """Usernames are unique across the marketplace, case-insensitively."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


@dataclass(frozen=True)
class LoginSubject:
    """A user as a token grant sees them; ``refusal`` is raised once the credential is right."""

    user: User
    roles: list[str]
    policy: LockoutPolicy
    refusal: TokenRequestError | None


def load_subject(
    session: Session, user: User, client: ApiClient, requested_roles: Sequence[str] | None
) -> LoginSubject:
    """Roles the token would carry, the lockout policy, and why it must be refused if so."""
    profiles = assigned_profiles(session, user)
    roles = granted_roles(held_roles(profiles), requested_roles)
    refusal: TokenRequestError | None = None
    buyer = session.get(Buyer, user.buyer_id) if user.buyer_id else None
    if not user.active or (buyer is not None and not buyer.active):
        refusal = UserNotActive()
    elif not is_allowed_on_client(session, user, client):
        refusal = RolesNotGranted("The user may not sign in through this API client.")
    elif not roles:
        refusal = RolesNotGranted("The user holds none of the requested roles.")
    return LoginSubject(
        user=user, roles=roles, policy=LockoutPolicy.from_profiles(profiles), refusal=refusal
    )
