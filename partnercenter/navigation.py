"""The main navigation: each entry shows only to users who may open it."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from partnercenter.roles import Capability


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    capability: Capability | None = None  # None: any partner staff user

    @property
    def url(self) -> str:
        return reverse(self.url_name)


STAFF_NAVIGATION = [
    NavItem(_("Dashboard"), "dashboard", Capability.VIEW_CUSTOMERS),
    NavItem(_("My access"), "my_access"),
]

CUSTOMER_NAVIGATION = [
    NavItem(_("Admin"), "customer_admin_home"),
]


def navigation_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    if user.is_customer_admin:
        return list(CUSTOMER_NAVIGATION)
    if user.is_partner_staff:
        return [i for i in STAFF_NAVIGATION if i.capability is None or user.can(i.capability)]
    return []
