"""``otp bootstrap``: the first admin, a FullAccess profile assigned to that admin only, and
an admin API client."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.auth.sessions import revoke_user_sessions
from core.identity.passwords import PasswordHasher
from core.models import (
    ADMIN,
    ApiClient,
    SecurityProfile,
    SecurityProfileAssignment,
    User,
    utcnow,
)
from core.platform.ids import new_client_id

FULL_ACCESS_PROFILE_ID = "otp-bootstrap-fullaccess"
BOOTSTRAP_CLIENT_NAME = "otp bootstrap admin client"


def bootstrap_admin(
    session: Session,
    hasher: PasswordHasher,
    *,
    username: str,
    password: str,
    email: str | None = None,
) -> str:
    """Create (or keep) the admin user, profile and client; return the client's ID.

    Running it again changes nothing but the password (so it can also rotate it).
    """
    profile = session.get(SecurityProfile, FULL_ACCESS_PROFILE_ID)
    if profile is None:
        profile = SecurityProfile(
            id=FULL_ACCESS_PROFILE_ID, name="Full access", roles=["FullAccess"]
        )
        session.add(profile)
        session.flush()
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        user = User(id=username, user_type=ADMIN, username=username, email=email, active=True)
        session.add(user)
        session.flush()
    elif email is not None:
        user.email = email
    if user.password_hash is None or not hasher.verify(user.password_hash, password):
        rotated = user.password_hash is not None
        user.password_hash = hasher.hash(password)
        user.password_set_at = utcnow()
        if rotated:  # a new password ends the sessions signed in with the old one
            revoke_user_sessions(session.connection(), user.id, utcnow())

    # FullAccess goes to this user alone. A marketplace-level assignment (what earlier
    # versions made) would make every admin user created later a FullAccess admin.
    session.execute(
        delete(SecurityProfileAssignment).where(
            SecurityProfileAssignment.security_profile_id == FULL_ACCESS_PROFILE_ID,
            SecurityProfileAssignment.buyer_id.is_(None),
            SecurityProfileAssignment.user_id.is_(None),
        )
    )
    user_assignment = session.scalar(
        select(SecurityProfileAssignment).where(
            SecurityProfileAssignment.security_profile_id == FULL_ACCESS_PROFILE_ID,
            SecurityProfileAssignment.user_id == user.id,
        )
    )
    if user_assignment is None:
        session.add(
            SecurityProfileAssignment(security_profile_id=FULL_ACCESS_PROFILE_ID, user_id=user.id)
        )

    client = session.scalar(select(ApiClient).where(ApiClient.app_name == BOOTSTRAP_CLIENT_NAME))
    if client is None:
        client = ApiClient(
            id=new_client_id(),
            app_name=BOOTSTRAP_CLIENT_NAME,
            allow_seller=True,
            active=True,
            access_token_duration=600,
            refresh_token_duration=0,
        )
        session.add(client)
    session.flush()
    return client.id
