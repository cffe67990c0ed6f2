"""The main navigation: each entry shows only to users who may open it."""

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.functional import Promise
from django.utils.translation import get_language
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
    NavItem(_("Dashboard"), "dashboard:dashboard", Capability.VIEW_CUSTOMERS, section=True),
    NavItem(_("Customers"), "customers:customer_list", Capability.VIEW_CUSTOMERS, section=True),
    NavItem(
        _("Supported subscriptions"),
        "customers:supported_subscriptions",
        Capability.VIEW_CUSTOMERS,
        partner_kind=PartnerKind.INDIRECT_RESELLER,
    ),
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
    NavItem(_("API tokens"), "partnercenter:api_tokens"),
    NavItem(_("Webhooks"), "notifications:webhook_list", Capability.MANAGE_WEBHOOKS, section=True),
    NavItem(_("My access"), "partnercenter:my_access"),
]

CUSTOMER_NAVIGATION = [
    NavItem(_("Admin"), "customers:customer_admin_home"),
    NavItem(_("Support"), "customers:customer_support"),
    NavItem(_("Partner relationships"), "relationships:customer_partner_relationships"),
    NavItem(_("My access"), "partnercenter:my_access"),
]


def _audience(user) -> tuple:
    """What decides which entries a user sees: their side, capabilities and kind of partner."""
    if not user.is_authenticated:
        return ()
    if user.is_customer_admin:
        return ("customer",)
    if user.is_partner_staff:
        return ("staff", user.capabilities, user.partner.kind)
    return ()


def _items_for(audience: tuple) -> list[NavItem]:
    if audience == ("customer",):
        return CUSTOMER_NAVIGATION
    if audience and audience[0] == "staff":
        _side, capabilities, partner_kind = audience
        return [
            item
            for item in STAFF_NAVIGATION
            if (item.capability is None or item.capability in capabilities)
            and (item.partner_kind is None or item.partner_kind == partner_kind)
        ]
    return []


def _site() -> tuple[str, str]:
    """What else a URL depends on: the script prefix and the URLconf."""
    return get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF


@lru_cache(maxsize=256)
def _reversed(url_name: str, script_prefix: str, urlconf: str) -> str:
    return reverse(url_name, urlconf=urlconf)


@lru_cache(maxsize=256)
def _entries(
    audience: tuple, language: str | None, script_prefix: str, urlconf: str
) -> tuple[tuple[str, str, bool], ...]:
    """Each entry's label in `language`, its URL and whether it heads a section: the same on
    every page, so chosen and translated once per audience, not on every request."""
    return tuple(
        (str(item.label), _reversed(item.url_name, script_prefix, urlconf), item.section)
        for item in _items_for(audience)
    )


def navigation_for(user, path: str) -> list[NavLink]:
    return [
        NavLink(label, url, path == url or (section and path.startswith(url)))
        for label, url, section in _entries(_audience(user), get_language(), *_site())
    ]
