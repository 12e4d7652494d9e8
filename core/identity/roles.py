"""OrderCloud's role and message type names: the one place each set of them is defined."""

from __future__ import annotations

FULL_ACCESS = "FullAccess"

# The roles this service's own endpoints check (docs/admin-api.md). A FullAccess holder is granted
# each of them when a token request's scope asks for it; custom roles are granted only
# when a profile holds them.
ROLES_FULL_ACCESS_GRANTS: frozenset[str] = frozenset(
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

# Every OrderCloud ApiRole name a security profile may hold: those above plus the rest of
# OrderCloud's whole vocabulary (ordercloud-javascript-sdk 12, models/ApiRole), so profiles
# and senders copied from an OrderCloud marketplace validate unchanged. A role the service
# has no resource for is stored, returned and grants nothing.
ORDERCLOUD_API_ROLES: frozenset[str] = ROLES_FULL_ACCESS_GRANTS | frozenset(
    {
        "MeAddressAdmin",
        "MeCreditCardAdmin",
        "MeXpAdmin",
        "PasswordReset",
        "AddressAdmin",
        "AddressReader",
        "AdminAddressAdmin",
        "AdminAddressReader",
        "AdminUserGroupAdmin",
        "AdminUserGroupReader",
        "ApprovalRuleAdmin",
        "ApprovalRuleReader",
        "BuyerImpersonation",
        "CatalogAdmin",
        "CatalogReader",
        "CategoryAdmin",
        "CategoryReader",
        "CostCenterAdmin",
        "CostCenterReader",
        "CreditCardAdmin",
        "CreditCardReader",
        "IncrementorAdmin",
        "IncrementorReader",
        "IntegrationEventAdmin",
        "IntegrationEventReader",
        "OrderAdmin",
        "OrderReader",
        "OverrideShipping",
        "OverrideTax",
        "OverrideUnitPrice",
        "PriceScheduleAdmin",
        "PriceScheduleReader",
        "ProductAdmin",
        "ProductFacetAdmin",
        "ProductFacetReader",
        "ProductReader",
        "PromotionAdmin",
        "PromotionReader",
        "ShipmentAdmin",
        "ShipmentReader",
        "SpendingAccountAdmin",
        "SpendingAccountReader",
        "SupplierAddressAdmin",
        "SupplierAddressReader",
        "SupplierAdmin",
        "SupplierReader",
        "SupplierUserAdmin",
        "SupplierUserGroupAdmin",
        "SupplierUserGroupReader",
        "SupplierUserReader",
        "UnsubmittedOrderReader",
        "UserGroupAdmin",
        "UserGroupReader",
        "WebhookAdmin",
        "WebhookReader",
        "XpIndexAdmin",
        "BundleAdmin",
        "BundleAssignmentAdmin",
        "BundleReader",
        "EntitySyncConfigAdmin",
        "ErrorConfigAdmin",
        "LocaleAdmin",
        "LocaleReader",
        "MeSubscriptionAdmin",
        "OpenIDConnectAdmin",
        "OpenIDConnectReader",
        "OrderSyncConfigAdmin",
        "ProductAssignmentAdmin",
        "ProductCollectionReader",
        "ProductSyncConfigAdmin",
        "SubscriptionAdmin",
        "SubscriptionReader",
        "TrackingEventAdmin",
        "TrackingEventReader",
    }
)

# OrderCloud's MessageType vocabulary (the SDK 12's models/MessageType, plus the older
# ProductCollectionInvitation so senders saved with it still validate). This service
# delivers only OneTimePassword; a sender configured for more types is stored as it is.
MESSAGE_TYPES: frozenset[str] = frozenset(
    {
        "OneTimePassword",
        "ForgottenPassword",
        "NewUserInvitation",
        "OrderApproved",
        "OrderDeclined",
        "OrderSubmitted",
        "OrderSubmittedForApproval",
        "OrderSubmittedForYourApproval",
        "OrderSubmittedForYourApprovalHasBeenApproved",
        "OrderSubmittedForYourApprovalHasBeenDeclined",
        "OrderReturnApproved",
        "OrderReturnCompleted",
        "OrderReturnDeclined",
        "OrderReturnSubmitted",
        "OrderReturnSubmittedForApproval",
        "OrderReturnSubmittedForYourApproval",
        "OrderReturnSubmittedForYourApprovalHasBeenApproved",
        "OrderReturnSubmittedForYourApprovalHasBeenDeclined",
        "ProductCollectionInvitation",
        "ShipmentCreated",
        "ForgottenUsername",
        "ProductCollectionInvitationAccepted",
        "ProductCollectionInvitationDeclined",
        "SubscriptionReminder",
    }
)
