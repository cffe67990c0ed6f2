"""The main navigation: each entry shows only to users who may open it."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from partnercenter.models import PartnerKind
from partnercenter.roles import Capability


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    capability: Capability | None = None  # None: anyone on that side (staff or customer)
    partner_kind: str | None = None  # only for staff of this kind of partner
    section: bool = False  # also current on the pages below its URL


@dataclass(frozen=True)
class NavLink:
    label: str | Promise
    url: str
    current: bool


STAFF_NAVIGATION = [
    NavItem(_("Dashboard"), "dashboard:dashboard", Capability.VIEW_CUSTOMERS),
    NavItem(_("Customers"), "customers:customer_list", Capability.VIEW_CUSTOMERS, section=True),
    NavItem(
        _("Indirect resellers"),
        "customers:partnerships",
        Capability.VIEW_CUSTOMERS,
        section=True,
        partner_kind=PartnerKind.INDIRECT_PROVIDER,
    ),
    NavItem(
        _("Indirect providers"),
        "customers:partnerships",
        Capability.VIEW_CUSTOMERS,
        section=True,
        partner_kind=PartnerKind.INDIRECT_RESELLER,
    ),
    NavItem(_("History"), "customers:history", Capability.VIEW_HISTORY),
    NavItem(_("Users"), "partnercenter:user_list", Capability.MANAGE_USERS, section=True),
    NavItem(_("Support profile"), "partnercenter:support_profile", Capability.VIEW_SUPPORT_PROFILE),
    NavItem(_("My access"), "partnercenter:my_access"),
]

CUSTOMER_NAVIGATION = [
    NavItem(_("Admin"), "customers:customer_admin_home"),
    NavItem(_("Support"), "customers:customer_support"),
    NavItem(_("Partner relationships"), "relationships:customer_partner_relationships"),
    NavItem(_("My access"), "partnercenter:my_access"),
]


def _items_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    if user.is_customer_admin:
        return CUSTOMER_NAVIGATION
    if user.is_partner_staff:
        return [
            item
            for item in STAFF_NAVIGATION
            if (item.capability is None or user.can(item.capability))
            and (item.partner_kind is None or item.partner_kind == user.partner.kind)
        ]
    return []


def navigation_for(user, path: str) -> list[NavLink]:
    links = []
    for item in _items_for(user):
        url = reverse(item.url_name)
        current = path == url or (item.section and path.startswith(url))
        links.append(NavLink(item.label, url, current))
    return links
