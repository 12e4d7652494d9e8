"""Admin rules for API clients, buyers, users and security profiles (and their assignments)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.admin.assignments import AssignmentStore
from core.admin.collections import CollectionStore, Scope, ensure_exists, without_nulls
from core.admin.list_filters import Fields
from core.auth.lockout import is_locked
from core.auth.sessions import revoke_user_sessions
from core.identity.access import profile_reaches_user
from core.identity.passwords import PasswordHasher
from core.models import (
    ADMIN,
    ApiClient,
    ApiClientAssignment,
    Buyer,
    SecurityProfile,
    SecurityProfileAssignment,
    User,
)
from core.platform.clock import Clock
from core.platform.errors import DomainError, InvalidRequest, UsernameTaken
from core.platform.ids import new_client_id

# OrderCloud ApiClient fields for features this service does not have (anonymous
# shoppers, suppliers, integration events, role limits): the API accepts them only
# absent, empty or off, and returns them so.
UNSUPPORTED_CLIENT_FIELDS = (
    "anonymous_token_duration",
    "allow_any_supplier",
    "is_anon_buyer",
    "order_checkout_integration_event_id",
    "order_return_integration_event_id",
    "add_to_cart_integration_event_id",
    "minimum_required_roles",
    "minimum_required_custom_roles",
    "maximum_granted_roles",
    "maximum_granted_custom_roles",
)


class ApiClientStore(CollectionStore[ApiClient]):
    model = ApiClient
    object_type = "ApiClient"
    fields: ClassVar[Fields] = {
        "ID": ApiClient.id,
        "AppName": ApiClient.app_name,
        "Active": ApiClient.active,
        "AccessTokenDuration": ApiClient.access_token_duration,
        "RefreshTokenDuration": ApiClient.refresh_token_duration,
        "AllowAnyBuyer": ApiClient.allow_any_buyer,
        "AllowSeller": ApiClient.allow_seller,
        "DefaultContextUserName": ApiClient.default_context_username,
        "DateCreated": ApiClient.created_at,
    }
    search_fields = ("ID", "AppName")

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher

    def generate_id(self) -> str:
        return new_client_id()

    def present_all(self, session: Session, rows: Sequence[ApiClient]) -> list[dict[str, Any]]:
        counted = session.execute(
            select(ApiClientAssignment.api_client_id, func.count())
            .where(ApiClientAssignment.api_client_id.in_([row.id for row in rows]))
            .group_by(ApiClientAssignment.api_client_id)
        ).all()
        counts: dict[str, int] = dict(counted)  # a list of (client id, count) rows
        return [
            {**self.present(row), "assigned_buyer_count": counts.get(row.id, 0)} for row in rows
        ]

    def apply(self, session: Session, row: ApiClient, values: Mapping[str, Any]) -> None:
        fields = dict(values)
        if "client_secret" in fields:
            # An explicit null removes the secret; omitted keeps the stored one.
            secret = fields.pop("client_secret")
            row.client_secret_hash = self.hasher.hash(secret) if secret else None
        for name in UNSUPPORTED_CLIENT_FIELDS:  # validated as absent, empty or off; not stored
            fields.pop(name, None)
        super().apply(session, row, fields)


class BuyerStore(CollectionStore[Buyer]):
    model = Buyer
    object_type = "Buyer"
    fields: ClassVar[Fields] = {
        "ID": Buyer.id,
        "Name": Buyer.name,
        "Active": Buyer.active,
        "DateCreated": Buyer.created_at,
    }
    search_fields = ("ID", "Name")

    def present(self, row: Buyer) -> dict[str, Any]:
        return {**super().present(row), "date_created": row.created_at}


def available_roles(session: Session, user_ids: Sequence[str]) -> dict[str, list[str]]:
    """OrderCloud's AvailableRoles: the Roles and CustomRoles of the security profiles
    that reach each user (core.identity.access), sorted, in one query."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, SecurityProfile.roles, SecurityProfile.custom_roles)
        .select_from(User)
        .join(SecurityProfileAssignment, profile_reaches_user())
        .join(SecurityProfile, SecurityProfile.id == SecurityProfileAssignment.security_profile_id)
        .where(User.id.in_(user_ids))
    )
    held: dict[str, set[str]] = {}
    for user_id, roles, custom_roles in rows:
        held.setdefault(user_id, set()).update(roles or [], custom_roles or [])
    return {user_id: sorted(roles) for user_id, roles in held.items()}


class UserStore(CollectionStore[User]):
    """Admin users, or one buyer's users (``scope`` holds ``buyer_id``)."""

    model = User
    object_type = "User"
    fields: ClassVar[Fields] = {
        "ID": User.id,
        "Username": User.username,
        "Email": User.email,
        "FirstName": User.first_name,
        "LastName": User.last_name,
        "Phone": User.phone,
        "Active": User.active,
        "FailedLoginAttempts": User.failed_login_attempts,
        "DateCreated": User.created_at,
        "LastActive": User.last_login_at,
        "PasswordLastSetDate": User.password_set_at,
    }
    search_fields = ("ID", "Username", "Email", "FirstName", "LastName")

    def __init__(self, user_type: str, hasher: PasswordHasher, clock: Clock) -> None:
        self.user_type = user_type
        self.hasher = hasher
        self.clock = clock

    def scope_clauses(self, session: Session, scope: Scope) -> list[ColumnElement[bool]]:
        # Admin users are exactly the users without a buyer, so the scope is on buyer_id
        # alone and the (buyer_id, <sort key>, id) indexes cover both kinds of list.
        if self.user_type == ADMIN:
            return [User.buyer_id.is_(None)]
        ensure_exists(session, Buyer, "Buyer", scope["buyer_id"])
        return [User.buyer_id == scope["buyer_id"]]

    def new_row(self, scope: Scope) -> User:
        return User(user_type=self.user_type, buyer_id=scope.get("buyer_id"))

    def check(self, session: Session, row: User) -> None:
        if self._username_taken(session, row):
            raise self._username_error(row.username)

    def conflict(self, object_id: str, error: IntegrityError) -> DomainError:
        if "uq_users_username_lower" in str(error.orig):
            return self._username_error(None)
        return super().conflict(object_id, error)

    def _username_error(self, username: str | None) -> UsernameTaken:
        shown = f"Username {username!r}" if username else "This username"
        return UsernameTaken(
            f"{shown} is already used in this marketplace.", data={"Field": "Username"}
        )

    def _username_taken(self, session: Session, row: User) -> bool:
        taken = session.scalar(
            select(User.id).where(
                func.lower(User.username) == row.username.lower(), User.id != row.id
            )
        )
        return taken is not None

    def apply(self, session: Session, row: User, values: Mapping[str, Any]) -> None:
        fields = dict(values)
        existing = row.token_version is not None  # an update, not a create
        ends_sessions = "password" in fields or (row.active and fields.get("active") is False)
        if "password" in fields:
            password = fields.pop("password")
            row.password_hash = self.hasher.hash(password) if password else None
            row.password_set_at = self.clock.now() if password else None
        if "terms_accepted" in fields:
            accepted = fields.pop("terms_accepted")
            row.terms_accepted_at = None if accepted is None else datetime.fromisoformat(accepted)
        super().apply(session, row, fields)
        if existing and ends_sessions:
            # A changed or reset password, or deactivation, ends the user's sessions.
            self._revoke(session, row.id)

    def revoke_tokens(self, session: Session, object_id: str, scope: Scope) -> None:
        """OrderCloud's RevokeUserTokens: end every session of the user."""
        self._revoke(session, self.get(session, object_id, scope).id)

    def _revoke(self, session: Session, user_id: str) -> None:
        revoke_user_sessions(session.connection(), user_id, self.clock.now())

    def present(self, row: User) -> dict[str, Any]:
        view = super().present(row)
        view.update(
            locked=is_locked(row.locked, row.locked_until, self.clock.now()),
            company_id=row.buyer_id,
            date_created=row.created_at,
            last_active=row.last_login_at,
            password_last_set_date=row.password_set_at,
            terms_accepted=row.terms_accepted_at,
            locale=None,
            available_roles=[],
        )
        return view

    def present_all(self, session: Session, rows: Sequence[User]) -> list[dict[str, Any]]:
        roles = available_roles(session, [row.id for row in rows])
        return [{**self.present(row), "available_roles": roles.get(row.id, [])} for row in rows]

    def unlock(self, session: Session, object_id: str, scope: Scope) -> User:
        """Clear the failed-attempt counter and any lock, timed or indefinite."""
        user = self.get(session, object_id, scope)
        user.failed_login_attempts = 0
        user.locked = False
        user.locked_until = None
        session.flush()
        return user


class SecurityProfileStore(CollectionStore[SecurityProfile]):
    model = SecurityProfile
    object_type = "SecurityProfile"
    fields: ClassVar[Fields] = {
        "ID": SecurityProfile.id,
        "Name": SecurityProfile.name,
        "DateCreated": SecurityProfile.created_at,
    }
    search_fields = ("ID", "Name")

    def apply(self, session: Session, row: SecurityProfile, values: Mapping[str, Any]) -> None:
        fields = dict(values)
        if "password_config" in fields:
            # Only what was set is stored, so lockout falls back to its defaults for the rest.
            row.password_config = without_nulls(fields.pop("password_config"))
        super().apply(session, row, fields)

    def present(self, row: SecurityProfile) -> dict[str, Any]:
        return {**super().present(row), "is_external_role_group": False}


class ApiClientAssignmentStore(AssignmentStore[ApiClientAssignment]):
    model = ApiClientAssignment
    keys = ("api_client_id", "buyer_id")
    references: ClassVar[Mapping[str, tuple[type[Any], str]]] = {
        "api_client_id": (ApiClient, "ApiClient"),
        "buyer_id": (Buyer, "Buyer"),
    }


class SecurityProfileAssignmentStore(AssignmentStore[SecurityProfileAssignment]):
    """Marketplace level (neither BuyerID nor UserID), buyer level, or user level."""

    model = SecurityProfileAssignment
    keys = ("security_profile_id", "buyer_id", "user_id")
    references: ClassVar[Mapping[str, tuple[type[Any], str]]] = {
        "security_profile_id": (SecurityProfile, "SecurityProfile"),
        "buyer_id": (Buyer, "Buyer"),
        "user_id": (User, "User"),
    }

    def filter_clauses(self, filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
        """OrderCloud's ``level`` (User, Group, Company) and ``commerceRole`` (Buyer,
        Seller, Supplier); there are no groups or suppliers here."""
        clauses = super().filter_clauses(filters)
        level, role = filters.get("level"), filters.get("commerce_role")
        Assignment = SecurityProfileAssignment  # noqa: N806 - an alias for the mapped class
        if level == "User":
            clauses.append(Assignment.user_id.is_not(None))
        elif level == "Company":
            clauses.append(Assignment.user_id.is_(None))
        elif level == "Group":
            clauses.append(false())
        if role == "Buyer":
            clauses.append(Assignment.buyer_id.is_not(None))
        elif role == "Seller":
            clauses.append(Assignment.buyer_id.is_(None))
        elif role == "Supplier":
            clauses.append(false())
        return clauses

    def check(self, session: Session, values: Mapping[str, str | None]) -> None:
        user_id, buyer_id = values.get("user_id"), values.get("buyer_id")
        if user_id is None:
            return
        user = ensure_exists(session, User, "User", user_id)
        # A buyer user is named with its buyer, an admin user without one (OrderCloud's form).
        if user.buyer_id != buyer_id:
            raise InvalidRequest(
                "UserID must be given with that user's BuyerID (and without one for an "
                "admin user).",
                data={"Field": "BuyerID"},
            )
