"""API clients, buyers, buyer users, admin users and security profiles: schemas and rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, WithJsonSchema

from api.admin.collection import Collection, ItemAction
from api.wire import Extended, ObjectId, Text, WireModel
from core.admin.identity import (
    ApiClientStore,
    BuyerStore,
    SecurityProfileStore,
    UserStore,
)
from core.identity.authorization import check_profile_edit, check_user_manageable
from core.identity.passwords import PasswordHasher
from core.identity.roles import ORDERCLOUD_API_ROLES
from core.models import ADMIN, BUYER
from core.platform.clock import Clock

Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Email = Annotated[str, StringConstraints(max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")]


def _known_role(role: str) -> str:
    if role not in ORDERCLOUD_API_ROLES:
        raise ValueError(f"{role!r} is not an OrderCloud ApiRole")
    return role


Role = Annotated[
    str,
    AfterValidator(_known_role),
    WithJsonSchema({"type": "string", "enum": sorted(ORDERCLOUD_API_ROLES)}),
]


class ApiClientFields(WireModel):
    id: ObjectId | None = None
    app_name: Name
    access_token_duration: int = Field(default=600, ge=10, le=600, description="Minutes.")
    refresh_token_duration: int = Field(default=0, ge=0, le=43200, description="Minutes.")
    active: bool = True
    allow_any_buyer: bool = False
    allow_seller: bool = False
    default_context_username: Text | None = Field(default=None, alias="DefaultContextUserName")
    xp: Extended = Field(default_factory=dict)


def _off(value: Any) -> Any:
    if value:
        raise ValueError("not supported by this service; send it null, empty or false")
    return value


# OrderCloud features this service does not have: accepted only absent, empty or off
# (what a read returns), so an object read from here saves back unchanged.
Unsupported = Annotated[
    Any, AfterValidator(_off), WithJsonSchema({"description": "Not supported: null, [] or false."})
]


class ApiClientUnsupported(WireModel):
    """ApiClient properties of OrderCloud features this service does not have."""

    anonymous_token_duration: Unsupported = None
    allow_any_supplier: Unsupported = False
    is_anon_buyer: Unsupported = False
    order_checkout_integration_event_id: Unsupported = None
    order_return_integration_event_id: Unsupported = None
    add_to_cart_integration_event_id: Unsupported = None
    minimum_required_roles: Unsupported = None
    minimum_required_custom_roles: Unsupported = None
    maximum_granted_roles: Unsupported = None
    maximum_granted_custom_roles: Unsupported = None


class ApiClient(ApiClientFields):
    """An API client as read: ClientSecret is never returned."""

    id: str
    app_name: str
    anonymous_token_duration: int | None = None
    allow_any_supplier: bool = False
    is_anon_buyer: bool = False
    assigned_buyer_count: int = 0
    assigned_supplier_count: int = 0
    order_checkout_integration_event_id: str | None = None
    order_checkout_integration_event_name: str | None = None
    order_return_integration_event_id: str | None = None
    order_return_integration_event_name: str | None = None
    add_to_cart_integration_event_id: str | None = None
    add_to_cart_integration_event_name: str | None = None
    minimum_required_roles: list[str] | None = None
    minimum_required_custom_roles: list[str] | None = None
    maximum_granted_roles: list[str] | None = None
    maximum_granted_custom_roles: list[str] | None = None


class ApiClientWrite(ApiClientFields, ApiClientUnsupported):
    client_secret: Text | None = Field(
        default=None, description="Write-only; stored as an argon2id hash. null removes it."
    )


class BuyerFields(WireModel):
    id: ObjectId | None = None
    name: Name
    default_catalog_id: ObjectId | None = Field(
        default=None, description="Stored and returned; this service has no catalogs."
    )
    active: bool = True
    xp: Extended = Field(default_factory=dict)


class Buyer(BuyerFields):
    id: str
    name: str
    date_created: datetime


class BuyerWrite(BuyerFields):
    pass


class UserFields(WireModel):
    id: ObjectId | None = None
    username: Name
    first_name: Text
    last_name: Text
    email: Email
    phone: Text | None = None
    terms_accepted: AwareDatetime | None = Field(
        default=None, description="When the user accepted the terms (ISO 8601 with zone)."
    )
    active: bool = True
    xp: Extended = Field(default_factory=dict)


class User(UserFields):
    """A user as read: Password is never returned; the rest below is read-only."""

    id: str
    username: str
    email: str | None  # type: ignore[assignment]  # rows made outside the API may lack one
    terms_accepted: datetime | None = None
    company_id: str | None = Field(description="The buyer's ID; null for admin users.")
    available_roles: list[str] = Field(
        description="Roles and CustomRoles of the security profiles that reach the user."
    )
    locale: None = Field(default=None, description="Always null: no Locales here.")
    date_created: datetime
    last_active: datetime | None = Field(description="The last successful sign-in.")
    password_last_set_date: datetime | None
    failed_login_attempts: int = 0
    locked: bool = False


class UserWrite(UserFields):
    password: Text | None = Field(
        default=None, description="Write-only; stored as an argon2id hash."
    )


class PasswordConfig(WireModel):
    """AllowedFailedAttempts and LockoutDuration are enforced; OrderCloud's other password
    rules are stored and returned but not enforced (see docs/ordercloud-conformance.md)."""

    limit_password_reuse: int | None = Field(default=None, ge=0, le=1000)
    max_consecutive_dupe_chars: int | None = Field(default=None, ge=0, le=1000)
    maximum_password_age: int | None = Field(default=None, ge=0, le=100_000)
    minimum_password_age: int | None = Field(default=None, ge=0, le=100_000)
    allowed_failed_attempts: int | None = Field(default=None, ge=1, le=1000)
    lockout_duration: int | None = Field(
        default=None, ge=0, le=525600, description="Minutes; 0 locks until an admin unlocks."
    )
    upper_case_required: bool | None = None
    lower_case_required: bool | None = None
    special_character_required: bool | None = None
    numeric_required: bool | None = None
    minimum_character_count: int | None = Field(default=None, ge=0, le=1000)


class SecurityProfileFields(WireModel):
    id: ObjectId | None = None
    name: Name
    roles: list[Role] = Field(default_factory=list, max_length=200)
    custom_roles: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200
    )
    password_config: PasswordConfig = Field(default_factory=PasswordConfig)


class SecurityProfile(SecurityProfileFields):
    id: str
    name: str
    roles: list[str] = Field(default_factory=list)
    is_external_role_group: bool = Field(default=False, description="Always false here.")


class SecurityProfileWrite(SecurityProfileFields):
    pass


def identity_collections(hasher: PasswordHasher, clock: Clock) -> list[Collection]:
    admin_users = UserStore(ADMIN, hasher, clock)
    buyer_users = UserStore(BUYER, hasher, clock)
    unlock_summary = "Unlock: clear FailedLoginAttempts and any lockout"
    revoke_summary = "RevokeUserTokens: end every access and refresh token of the user"
    return [
        Collection(
            name="ApiClient",
            path="/v1/apiclients",
            store=ApiClientStore(hasher),
            read_model=ApiClient,
            write_model=ApiClientWrite,
            resource="ApiClient",
        ),
        Collection(
            name="Buyer",
            path="/v1/buyers",
            store=BuyerStore(),
            read_model=Buyer,
            write_model=BuyerWrite,
            resource="Buyer",
        ),
        Collection(
            name="BuyerUser",
            path="/v1/buyers/<buyerID>/users",
            store=buyer_users,
            read_model=User,
            write_model=UserWrite,
            resource="BuyerUser",
            scope_params={"buyerID": "buyer_id"},
            actions=(
                ItemAction("unlock", unlock_summary, buyer_users.unlock),
                ItemAction("tokens", revoke_summary, buyer_users.revoke_tokens, method="DELETE"),
            ),
            guard=check_user_manageable,
        ),
        Collection(
            name="AdminUser",
            path="/v1/adminusers",
            store=admin_users,
            read_model=User,
            write_model=UserWrite,
            resource="AdminUser",
            actions=(
                ItemAction("unlock", unlock_summary, admin_users.unlock),
                ItemAction("tokens", revoke_summary, admin_users.revoke_tokens, method="DELETE"),
            ),
            guard=check_user_manageable,
        ),
        Collection(
            name="SecurityProfile",
            path="/v1/securityprofiles",
            store=SecurityProfileStore(),
            read_model=SecurityProfile,
            write_model=SecurityProfileWrite,
            resource="SecurityProfile",
            guard=check_profile_edit,
        ),
    ]
