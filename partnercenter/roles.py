"""The staff roles and what each may do: the single source of truth for access.

Views, navigation, tests and the "My access" page all read `CAPABILITY_TABLE`; nothing else in
the code base names a role when deciding access.
"""

from collections.abc import Iterable

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    GLOBAL_ADMIN = "global_admin", _("Global admin")
    ADMIN_AGENT = "admin_agent", _("Admin agent")
    HELPDESK_AGENT = "helpdesk_agent", _("Helpdesk agent")
    SALES_AGENT = "sales_agent", _("Sales agent")
    USER_MANAGEMENT_ADMIN = "user_management_admin", _("User management admin")


class Capability(models.TextChoices):
    VIEW_CUSTOMERS = "view_customers", _("View customers, subscriptions and support contacts")
    ASSIGN_SUPPORT_CONTACT = "assign_support_contact", _("Assign a designated support contact")
    REQUEST_RELATIONSHIP = (
        "request_relationship",
        _("Request a relationship (customer or reseller)"),
    )
    REMOVE_RELATIONSHIP = "remove_relationship", _("Remove a relationship")
    VIEW_HISTORY = "view_history", _("View the change history")
    MANAGE_USERS = "manage_users", _("Manage partner users and their roles")
    VIEW_SUPPORT_PROFILE = "view_support_profile", _("View the partner's support profile")
    EDIT_SUPPORT_PROFILE = "edit_support_profile", _("Edit the partner's support profile")
    MANAGE_API_TOKENS = (
        "manage_api_tokens",
        _("See and revoke every API token of the partner (everyone manages their own)"),
    )
    MANAGE_WEBHOOKS = "manage_webhooks", _("Register webhook endpoints and see their deliveries")


_GA, _AA, _HA, _SA, _UMA = (
    Role.GLOBAL_ADMIN,
    Role.ADMIN_AGENT,
    Role.HELPDESK_AGENT,
    Role.SALES_AGENT,
    Role.USER_MANAGEMENT_ADMIN,
)

CAPABILITY_TABLE: dict[Capability, frozenset[Role]] = {
    Capability.VIEW_CUSTOMERS: frozenset({_GA, _AA, _HA, _SA}),
    Capability.ASSIGN_SUPPORT_CONTACT: frozenset({_GA, _AA, _HA}),
    Capability.REQUEST_RELATIONSHIP: frozenset({_GA, _AA, _SA}),
    Capability.REMOVE_RELATIONSHIP: frozenset({_GA, _AA, _SA}),
    Capability.VIEW_HISTORY: frozenset({_GA, _AA, _HA, _SA}),
    Capability.MANAGE_USERS: frozenset({_GA, _UMA}),
    Capability.VIEW_SUPPORT_PROFILE: frozenset({_GA, _AA, _UMA}),
    Capability.EDIT_SUPPORT_PROFILE: frozenset({_GA, _AA}),
    Capability.MANAGE_API_TOKENS: frozenset({_GA}),
    Capability.MANAGE_WEBHOOKS: frozenset({_GA}),
}


def capabilities_for(roles: Iterable[str]) -> frozenset[Capability]:
    """Every capability that at least one of `roles` grants."""
    held = set(roles)
    return frozenset(cap for cap, granted_to in CAPABILITY_TABLE.items() if held & granted_to)


def roles_with(capability: Capability | str) -> frozenset[Role]:
    """The roles that grant `capability`."""
    return CAPABILITY_TABLE[Capability(capability)]
