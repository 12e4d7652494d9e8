"""API clients, buyers, buyer users, admin users and security profiles: schemas and rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from api.admin.collection import Collection, ItemAction, Roles
from api.wire import Extended, ObjectId, Text, WireModel
from core.admin.identity import (
    ApiClientStore,
    BuyerStore,
    SecurityProfileStore,
    UserStore,
)
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


class ApiClient(ApiClientFields):
    """An API client as read: ClientSecret is never returned."""

    id: str
    app_name: str


class ApiClientWrite(ApiClientFields):
    client_secret: Text | None = Field(
        default=None, description="Write-only; stored as an argon2id hash. null removes it."
    )


class BuyerFields(WireModel):
    id: ObjectId | None = None
    name: Name
    active: bool = True
    xp: Extended = Field(default_factory=dict)


class Buyer(BuyerFields):
    id: str
    name: str


class BuyerWrite(BuyerFields):
    pass


class UserFields(WireModel):
    id: ObjectId | None = None
    username: Name
    first_name: Text
    last_name: Text
    email: Email
    phone: Text | None = None
    active: bool = True
    xp: Extended = Field(default_factory=dict)


class User(UserFields):
    """A user as read: Password is never returned; FailedLoginAttempts and Locked are read-only."""

    id: str
    username: str
    email: str | None  # type: ignore[assignment]  # rows made outside the API may lack one
    failed_login_attempts: int = 0
    locked: bool = False


class UserWrite(UserFields):
    password: Text | None = Field(
        default=None, description="Write-only; stored as an argon2id hash."
    )


class PasswordConfig(WireModel):
    allowed_failed_attempts: int | None = Field(default=None, ge=1, le=1000)
    lockout_duration: int | None = Field(
        default=None, ge=0, le=525600, description="Minutes; 0 locks until an admin unlocks."
    )


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


class SecurityProfileWrite(SecurityProfileFields):
    pass


def identity_collections(hasher: PasswordHasher, clock: Clock) -> list[Collection]:
    admin_users = UserStore(ADMIN, hasher, clock)
    buyer_users = UserStore(BUYER, hasher, clock)
    unlock_summary = "Unlock: clear FailedLoginAttempts and any lockout"
    return [
        Collection(
            name="ApiClient",
            path="/v1/apiclients",
            store=ApiClientStore(hasher),
            read_model=ApiClient,
            write_model=ApiClientWrite,
            roles=Roles.family("ApiClient"),
        ),
        Collection(
            name="Buyer",
            path="/v1/buyers",
            store=BuyerStore(),
            read_model=Buyer,
            write_model=BuyerWrite,
            roles=Roles.family("Buyer"),
        ),
        Collection(
            name="BuyerUser",
            path="/v1/buyers/<buyerID>/users",
            store=buyer_users,
            read_model=User,
            write_model=UserWrite,
            roles=Roles.family("BuyerUser"),
            scope_params={"buyerID": "buyer_id"},
            actions=(ItemAction("unlock", unlock_summary, buyer_users.unlock),),
        ),
        Collection(
            name="AdminUser",
            path="/v1/adminusers",
            store=admin_users,
            read_model=User,
            write_model=UserWrite,
            roles=Roles.family("AdminUser"),
            actions=(ItemAction("unlock", unlock_summary, admin_users.unlock),),
        ),
        Collection(
            name="SecurityProfile",
            path="/v1/securityprofiles",
            store=SecurityProfileStore(),
            read_model=SecurityProfile,
            write_model=SecurityProfileWrite,
            roles=Roles.family("SecurityProfile"),
        ),
    ]
