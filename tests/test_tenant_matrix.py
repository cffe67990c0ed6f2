"""Every principal × every object of the demo world × every URL, method and htmx variant.

What each principal may do with each object is written here as data, from DOMAIN.md ("Who may
end what", "Partners only ever see their own world", the roles table) and the access spec of
issue 9, never computed by the application's scoping code: SCOPES holds one small predicate per
(kind of principal, kind of object, action), reading raw rows. The statuses follow:
anonymous or inactive → 302 to sign-in; lacking the capability → 403; object outside the scope
of the action → 404; inside → 2xx/3xx (a refused domain action answers with a message); a
method the route does not take → 405. `_never_seen` lists, per principal, names that must
appear in no response body.

One test per principal; every request runs in a savepoint that is rolled back, so requests do
not affect each other. Mismatches are collected and reported together; each test prints its
number of requests. A request refused at the gate (signed out, a method the route does not take,
a capability or kind of user the route does not let in) is refused before any lookup, so it is
asked with the route's first and last object only; otherwise every object is asked about
(TENANT_MATRIX_SAMPLE=1 samples the Contoso-only customers' nested objects for a quick run).
TENANT_MATRIX_REPORT=path writes every mismatch.
"""

import html
import io
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import F, Q
from django.test import Client
from django.urls import reverse

from customers import bulk
from customers.models import BulkOperation, Customer, Subscription, SupportContactChange
from customers.services import support_contact_assign
from customers.workflows import delegated_admin_remove
from notifications.models import Delivery, WebhookEndpoint
from partnercenter.api_tokens import api_token_issue
from partnercenter.models import ApiToken, Partner, User
from partnercenter.roles import Capability, Role
from partnercenter.services import user_deactivate
from relationships.models import CustomerRelationship, RelationshipRequest, ResellerPartnership
from relationships.services import (
    relationship_request_accept,
    relationship_request_create,
    relationship_request_link,
    reseller_partnership_request,
)
from tests import factories
from tests.urlwalk import product_routes

# The roles table of DOMAIN.md, as data (not read from partnercenter/roles.py).
V, ASSIGN, REQ, REM, HIST, USERS, VIEW_PROFILE, EDIT_PROFILE, TOKENS, WEBHOOKS = (
    Capability.VIEW_CUSTOMERS,
    Capability.ASSIGN_SUPPORT_CONTACT,
    Capability.REQUEST_RELATIONSHIP,
    Capability.REMOVE_RELATIONSHIP,
    Capability.VIEW_HISTORY,
    Capability.MANAGE_USERS,
    Capability.VIEW_SUPPORT_PROFILE,
    Capability.EDIT_SUPPORT_PROFILE,
    Capability.MANAGE_API_TOKENS,
    Capability.MANAGE_WEBHOOKS,
)
DOMAIN_ROLE_TABLE = {
    Role.GLOBAL_ADMIN: {
        V,
        ASSIGN,
        REQ,
        REM,
        HIST,
        USERS,
        VIEW_PROFILE,
        EDIT_PROFILE,
        TOKENS,
        WEBHOOKS,
    },
    Role.ADMIN_AGENT: {V, ASSIGN, REQ, REM, HIST, VIEW_PROFILE, EDIT_PROFILE},
    Role.HELPDESK_AGENT: {V, ASSIGN, HIST},
    Role.SALES_AGENT: {V, REQ, REM, HIST},
    Role.USER_MANAGEMENT_ADMIN: {USERS, VIEW_PROFILE},
}

# Kinds of principal.
PROVIDER, RESELLER, CUSTOMER_ADMIN_KIND, INACTIVE, ANONYMOUS = (
    "provider",
    "reseller",
    "customer_admin",
    "inactive",
    "anonymous",
)

# username: (kind, role); the inactive one is a deactivated Contoso admin agent.
PRINCIPALS = {
    "globaladmin": (PROVIDER, Role.GLOBAL_ADMIN),
    "adminagent": (PROVIDER, Role.ADMIN_AGENT),
    "helpdeskagent": (PROVIDER, Role.HELPDESK_AGENT),
    "salesagent": (PROVIDER, Role.SALES_AGENT),
    "usermgmtadmin": (PROVIDER, Role.USER_MANAGEMENT_ADMIN),
    "fabrikam": (RESELLER, Role.ADMIN_AGENT),
    "proseware": (PROVIDER, Role.ADMIN_AGENT),
    # Not in the demo world: global admins of the second provider and of a reseller, who
    # manage their own partner's webhook endpoints (made in `_build_world`).
    "prosewareadmin": (PROVIDER, Role.GLOBAL_ADMIN),
    "fabrikamadmin": (RESELLER, Role.GLOBAL_ADMIN),
    "adatumadmin": (CUSTOMER_ADMIN_KIND, None),
    "formeragent": (INACTIVE, Role.ADMIN_AGENT),
    "anonymous": (ANONYMOUS, None),
}

# Route gates other than a capability.
PUBLIC, SIGN_IN_PAGE, LANGUAGE, SIGNED_IN, INVITEE, CUSTOMER_ADMIN = (
    "public",
    "sign_in_page",
    "language",
    "signed_in",
    "invitee",
    "customer_admin",
)
OPEN_GATES = {PUBLIC, SIGN_IN_PAGE, LANGUAGE}
PROVIDERS_ONLY = "providers_only"  # no object; a reseller's staff get 403
RESELLERS_ONLY = "resellers_only"  # no object; a provider's staff get 403
STAFF = "staff"  # any partner staff, whatever their roles; a customer's admin gets 403

# Actions (the access spec's words).
VIEW, REQUEST, SHARE, ASSIGN_ACTION, REMOVE, REMOVE_DAP, ANSWER, MANAGE, REVOKE, EDIT, RESEND = (
    "view",
    "request",
    "share",
    "assign",
    "remove",
    "remove_dap",
    "answer",
    "manage",
    "revoke",
    "edit",
    "resend",
)


@dataclass(frozen=True)
class Gate:
    gate: object  # a Capability or one of the gates above
    action: str | None = None  # for routes with an object, or PROVIDERS_ONLY


@dataclass(frozen=True)
class RouteRule:
    params: str  # the kind of object bound into the URL (see `bindings`)
    methods: dict  # method -> Gate; other methods answer 405
    partial: str | None = None  # HX-Target of the page's partial, if it has one


def _both(gate: Gate) -> dict:
    return {"GET": gate, "POST": gate}


# Every product URL: what it binds, and per method what it needs.
ROUTES = {
    "partnercenter:login": RouteRule("none", _both(Gate(SIGN_IN_PAGE))),
    "partnercenter:logout": RouteRule("none", {"POST": Gate(SIGNED_IN)}),
    "partnercenter:password_set": RouteRule("password_link", _both(Gate(PUBLIC))),
    "partnercenter:password_set_done": RouteRule("none", {"GET": Gate(PUBLIC)}),
    "partnercenter:two_step": RouteRule("none", {"GET": Gate(SIGNED_IN)}),
    "partnercenter:two_step_setup": RouteRule("none", _both(Gate(SIGNED_IN))),
    "partnercenter:two_step_qr": RouteRule("none", {"GET": Gate(SIGNED_IN)}),
    "partnercenter:two_step_verify": RouteRule("none", _both(Gate(SIGNED_IN))),
    "partnercenter:two_step_recovery_codes": RouteRule("none", {"POST": Gate(SIGNED_IN)}),
    "partnercenter:two_step_turn_off": RouteRule("none", {"POST": Gate(SIGNED_IN)}),
    "partnercenter:home": RouteRule("none", {"GET": Gate(SIGNED_IN)}),
    "partnercenter:my_access": RouteRule("none", _both(Gate(SIGNED_IN))),
    "partnercenter:set_language": RouteRule("none", {"POST": Gate(LANGUAGE)}),
    "partnercenter:healthz": RouteRule("none", {"GET": Gate(PUBLIC)}),
    "partnercenter:readyz": RouteRule("none", {"GET": Gate(PUBLIC)}),
    "dashboard:dashboard": RouteRule("none", {"GET": Gate(V)}),
    "dashboard:support_contacts": RouteRule("none", {"GET": Gate(V)}),
    "customers:customer_list": RouteRule("none", {"GET": Gate(V)}, partial="customer-results"),
    "customers:customer_detail": RouteRule("customer", {"GET": Gate(V, VIEW)}),
    "customers:customer_relationships": RouteRule("customer", {"GET": Gate(V, VIEW)}),
    "customers:relationship_request_new": RouteRule("customer", _both(Gate(REQ, REQUEST))),
    "customers:relationship_request_detail": RouteRule(
        "customer_request", {"GET": Gate(REQ, SHARE)}
    ),
    "customers:relationship_remove": RouteRule("customer_relationship", _both(Gate(REM, REMOVE))),
    "customers:relationship_give_up_dap": RouteRule(
        "customer_relationship", _both(Gate(REM, REMOVE_DAP))
    ),
    "customers:partnerships": RouteRule("none", {"GET": Gate(V)}),
    "customers:partnership_request": RouteRule("none", {"POST": Gate(REQ, PROVIDERS_ONLY)}),
    "relationships:partnership_accept": RouteRule("partnership", {"POST": Gate(REQ, ANSWER)}),
    "relationships:partnership_decline": RouteRule("partnership", {"POST": Gate(REQ, ANSWER)}),
    "customers:partnership_remove": RouteRule("partnership", _both(Gate(REM, REMOVE))),
    "customers:subscription_detail": RouteRule(
        "subscription", {"GET": Gate(V, VIEW)}, partial="why-section"
    ),
    "customers:subscription_support_contact": RouteRule(
        "subscription", {"POST": Gate(ASSIGN, ASSIGN_ACTION)}, partial="contact-section"
    ),
    "customers:support_contact_change": RouteRule(
        "change", {"GET": Gate(V, VIEW)}, partial="contact-section"
    ),
    "customers:customer_bulk_review": RouteRule(
        "customer", {"POST": Gate(ASSIGN, VIEW)}, partial="bulk-operation"
    ),
    "customers:partnership_detail": RouteRule("partnership", {"GET": Gate(V, VIEW)}),
    "customers:reseller_bulk_review": RouteRule(
        "partnership", {"POST": Gate(ASSIGN, VIEW)}, partial="bulk-operation"
    ),
    "customers:bulk_operation": RouteRule(
        "bulk_operation", {"GET": Gate(ASSIGN, VIEW)}, partial="bulk-operation"
    ),
    "customers:bulk_operation_submit": RouteRule(
        "bulk_operation", {"POST": Gate(ASSIGN, ASSIGN_ACTION)}, partial="bulk-operation"
    ),
    "customers:bulk_operation_undo": RouteRule(
        "bulk_operation", {"POST": Gate(ASSIGN, ASSIGN_ACTION)}, partial="bulk-operation"
    ),
    "customers:history": RouteRule("none", {"GET": Gate(HIST)}),
    "customers:history_export": RouteRule("none", {"GET": Gate(HIST)}),
    "customers:supported_subscriptions": RouteRule(
        "none", {"GET": Gate(V, RESELLERS_ONLY)}, partial="supported-results"
    ),
    "customers:supported_subscriptions_export": RouteRule("none", {"GET": Gate(V, RESELLERS_ONLY)}),
    "partnercenter:user_list": RouteRule("none", {"GET": Gate(USERS)}),
    "partnercenter:user_add": RouteRule("none", _both(Gate(USERS))),
    "partnercenter:user_detail": RouteRule("user", {"GET": Gate(USERS, MANAGE)}),
    "partnercenter:user_roles": RouteRule("user", {"POST": Gate(USERS, MANAGE)}),
    "partnercenter:user_deactivate": RouteRule("user", {"POST": Gate(USERS, MANAGE)}),
    "partnercenter:user_reactivate": RouteRule("user", {"POST": Gate(USERS, MANAGE)}),
    "partnercenter:user_set_password_link": RouteRule("user", {"POST": Gate(USERS, MANAGE)}),
    "partnercenter:user_two_step_reset": RouteRule("user", {"POST": Gate(USERS, MANAGE)}),
    "partnercenter:support_profile": RouteRule("none", {"GET": Gate(VIEW_PROFILE)}),
    "partnercenter:support_profile_update": RouteRule("none", {"POST": Gate(EDIT_PROFILE)}),
    "partnercenter:api_tokens": RouteRule("none", _both(Gate(STAFF))),
    "api_pages:reference": RouteRule("none", {"GET": Gate(STAFF)}),
    "partnercenter:api_token_revoke": RouteRule("api_token", {"POST": Gate(STAFF, REVOKE)}),
    "notifications:webhook_list": RouteRule("none", _both(Gate(WEBHOOKS))),
    "notifications:webhook_detail": RouteRule(
        "endpoint",
        {"GET": Gate(WEBHOOKS, VIEW), "POST": Gate(WEBHOOKS, EDIT)},
        partial="deliveries-section",
    ),
    "notifications:webhook_secret_roll": RouteRule("endpoint", {"POST": Gate(WEBHOOKS, EDIT)}),
    "notifications:webhook_test": RouteRule(
        "endpoint", {"POST": Gate(WEBHOOKS, EDIT)}, partial="deliveries-section"
    ),
    "notifications:delivery_resend": RouteRule(
        "delivery", {"POST": Gate(WEBHOOKS, RESEND)}, partial="deliveries-section"
    ),
    "customers:customer_admin_home": RouteRule("none", {"GET": Gate(CUSTOMER_ADMIN)}),
    "customers:customer_support": RouteRule("none", {"GET": Gate(CUSTOMER_ADMIN)}),
    "relationships:customer_partner_relationships": RouteRule(
        "none", {"GET": Gate(CUSTOMER_ADMIN)}
    ),
    "relationships:invitation_accept": RouteRule("request", {"POST": Gate(CUSTOMER_ADMIN, ANSWER)}),
    "relationships:invitation_decline": RouteRule(
        "request", {"POST": Gate(CUSTOMER_ADMIN, ANSWER)}
    ),
    "customers:delegated_admin_remove": RouteRule(
        "relationship", _both(Gate(CUSTOMER_ADMIN, REMOVE_DAP))
    ),
    "customers:customer_relationship_end": RouteRule(
        "relationship", _both(Gate(CUSTOMER_ADMIN, REMOVE))
    ),
    "relationships:invitation": RouteRule("token", {"GET": Gate(INVITEE)}),
    # The API's relationship request URL: opened by a customer's admin (others are refused).
    "relationships:relationship_request_link": RouteRule(
        "request_link", {"GET": Gate(CUSTOMER_ADMIN)}
    ),
}


# The scopes ---------------------------------------------------------------------------------


@dataclass
class Principal:
    username: str
    kind: str
    capabilities: frozenset
    user_id: int | None = None
    partner_id: int | None = None
    customer_id: int | None = None
    customers: frozenset = frozenset()  # the customers with an ACTIVE relationship with it
    known_resellers: frozenset = frozenset()  # a provider's resellers, partnership in any state


def _own(p, partner_id):
    return partner_id == p.partner_id


# (kind of principal, kind of object, action) -> may it? Missing: never (default deny).
SCOPES = {
    # Customers: the partner's customers (an active relationship with it).
    (PROVIDER, "customer", VIEW): lambda p, c: c.pk in p.customers,
    (PROVIDER, "customer", REQUEST): lambda p, c: c.pk in p.customers,
    (RESELLER, "customer", VIEW): lambda p, c: c.pk in p.customers,
    (RESELLER, "customer", REQUEST): lambda p, c: c.pk in p.customers,
    # Subscriptions: a provider's own billed ones at its customers; a reseller's designated
    # ones, read only.
    (PROVIDER, "subscription", VIEW): lambda p, s: (
        _own(p, s.provider_id) and s.customer_id in p.customers
    ),
    (PROVIDER, "subscription", ASSIGN_ACTION): lambda p, s: (
        _own(p, s.provider_id) and s.customer_id in p.customers
    ),
    (RESELLER, "subscription", VIEW): lambda p, s: _own(p, s.support_contact_id),
    # Customer relationships: only their own parties end them; never a third partner. Scopes
    # say who may act; a state that no longer allows it (already removed, no DAP) is the
    # service's to refuse with a message, so it is not a 404.
    (PROVIDER, "relationship", VIEW): lambda p, r: (
        r.customer_id in p.customers
        and (_own(p, r.partner_id) or r.partner_id in p.known_resellers)
    ),
    (PROVIDER, "relationship", REMOVE): lambda p, r: _own(p, r.partner_id),
    (PROVIDER, "relationship", REMOVE_DAP): lambda p, r: _own(p, r.partner_id),
    (RESELLER, "relationship", VIEW): lambda p, r: _own(p, r.partner_id),
    (RESELLER, "relationship", REMOVE): lambda p, r: _own(p, r.partner_id),
    (RESELLER, "relationship", REMOVE_DAP): lambda p, r: _own(p, r.partner_id),
    (CUSTOMER_ADMIN_KIND, "relationship", REMOVE): lambda p, r: r.customer_id == p.customer_id,
    (CUSTOMER_ADMIN_KIND, "relationship", REMOVE_DAP): lambda p, r: r.customer_id == p.customer_id,
    # Partnerships: either party ends one; only the reseller answers (the service refuses,
    # with a message, one that is no longer requested).
    (PROVIDER, "partnership", VIEW): lambda p, ps: _own(p, ps.provider_id),  # reseller pages
    (PROVIDER, "partnership", REMOVE): lambda p, ps: _own(p, ps.provider_id),
    (RESELLER, "partnership", REMOVE): lambda p, ps: _own(p, ps.reseller_id),
    (RESELLER, "partnership", ANSWER): lambda p, ps: _own(p, ps.reseller_id),
    # Relationship requests: made by the partner or naming it, under one of its customers;
    # the customer's admin answers its own.
    (PROVIDER, "request", SHARE): lambda p, rq: (
        (_own(p, rq.requested_through_id) or _own(p, rq.partner_id))
        and rq.customer_id in p.customers
    ),
    (RESELLER, "request", SHARE): lambda p, rq: (
        (_own(p, rq.requested_through_id) or _own(p, rq.partner_id))
        and rq.customer_id in p.customers
    ),
    (CUSTOMER_ADMIN_KIND, "request", ANSWER): lambda p, rq: rq.customer_id == p.customer_id,
    # History: a provider's subscriptions' changes; a reseller's, only those that name it (on
    # a subscription it sees: the change page hangs under the subscription).
    (PROVIDER, "change", VIEW): lambda p, ch: (
        _own(p, ch.subscription.provider_id) and ch.subscription.customer_id in p.customers
    ),
    (RESELLER, "change", VIEW): lambda p, ch: (
        (_own(p, ch.from_contact_id) or _own(p, ch.to_contact_id))
        and _own(p, ch.subscription.support_contact_id)
    ),
    # Bulk changes: the provider's own, seen, submitted and undone by its staff who assign.
    (PROVIDER, "bulk_operation", VIEW): lambda p, op: _own(p, op.provider_id),
    (PROVIDER, "bulk_operation", ASSIGN_ACTION): lambda p, op: _own(p, op.provider_id),
    # Users: a partner's own staff.
    (PROVIDER, "user", MANAGE): lambda p, u: _own(p, u.partner_id),
    (RESELLER, "user", MANAGE): lambda p, u: _own(p, u.partner_id),
    # API tokens: everyone their own; a global admin every token of the partner.
    (PROVIDER, "api_token", REVOKE): lambda p, t: _token_in_reach(p, t),
    (RESELLER, "api_token", REVOKE): lambda p, t: _token_in_reach(p, t),
    # Webhook endpoints and their deliveries: the partner's own (an email is no one's here).
    (PROVIDER, "endpoint", VIEW): lambda p, e: _own(p, e.partner_id),
    (PROVIDER, "endpoint", EDIT): lambda p, e: _own(p, e.partner_id),
    (RESELLER, "endpoint", VIEW): lambda p, e: _own(p, e.partner_id),
    (RESELLER, "endpoint", EDIT): lambda p, e: _own(p, e.partner_id),
    (PROVIDER, "delivery", RESEND): lambda p, d: _own(p, d.endpoint.partner_id),
    (RESELLER, "delivery", RESEND): lambda p, d: _own(p, d.endpoint.partner_id),
}


def _token_in_reach(p, token) -> bool:
    return token.user_id == p.user_id or (TOKENS in p.capabilities and _own(p, token.partner_id))


# What each principal may never see, in any response body ----------------------------------

CONTOSO_STAFF_NAMES = ["Grace Lindqvist", "Aaron Patel", "Hanna Kovács", "Sofia Müller"]
CONTOSO_ADATUM_OFFERS = [
    "Office 365 Business Premium",
    "Microsoft 365 E3",
    "Microsoft 365 Business Basic",
]
PROSEWARE_WORLD = [
    "Proseware Distribution",
    "Dynamics 365 Business Central Essentials",
    "Pavel Novak",  # the proseware user
]
OTHER_PARTNERS_OF_ADATUM = [
    "Northwind Traders IT",
    "Trey Research",
    "Alpine IT Services",
    "Coho Systems",
]
ALL_PARTNERS = [
    "Contoso Distribution",
    "Proseware Distribution",
    "Fabrikam Solutions",
    *OTHER_PARTNERS_OF_ADATUM,
]
ADATUM = "Adatum Corporation"


def _never_seen(username: str) -> list[str]:
    """The names `username` may never see. Customer names come from raw rows."""
    customers = set(Customer.objects.values_list("name", flat=True))
    kind = PRINCIPALS[username][0]
    if kind in (ANONYMOUS, INACTIVE):
        return [*ALL_PARTNERS, *sorted(customers)]
    if username == "usermgmtadmin":
        return [*PROSEWARE_WORLD, *sorted(customers)]
    if username in ("proseware", "prosewareadmin"):
        # Not "Trey Research": Proseware asked it for a partnership (its Indirect resellers).
        return [
            "Contoso Distribution",
            "Northwind Traders IT",
            "Alpine IT Services",
            "Coho Systems",
            *sorted(customers - {ADATUM}),
            *CONTOSO_ADATUM_OFFERS,
            *CONTOSO_STAFF_NAMES,
            "Umar Haddad",
        ]
    if username in ("fabrikam", "fabrikamadmin"):
        fabrikams = set(
            CustomerRelationship.objects.filter(
                partner__name="Fabrikam Solutions", state="active"
            ).values_list("customer__name", flat=True)
        )
        # Northwind covers the history before Fabrikam was designated (Lamna's Office 365 E1).
        return [
            *OTHER_PARTNERS_OF_ADATUM,
            *sorted(customers - fabrikams),
            "Microsoft 365 E3",
            "Microsoft 365 Business Basic",
        ]
    if username == "adatumadmin":
        return [*sorted(customers - {ADATUM}), "Trey Research"]
    return PROSEWARE_WORLD  # Contoso's staff


def _tokens_never_seen(principal: Principal) -> list[str]:
    """The names of the API tokens out of the principal's reach: a token is listed only to
    those who may revoke it."""
    scope = SCOPES.get((principal.kind, "api_token", REVOKE))
    return [
        token.name
        for token in ApiToken.objects.annotate(partner_id=F("user__partner_id"))
        if scope is None or not scope(principal, token)
    ]


def _webhooks_never_seen(principal: Principal) -> list[str]:
    """Every endpoint's secret (shown only in the answer that makes a new one); the URL and
    description of each endpoint out of the principal's reach, and the event ids of its
    deliveries."""
    scope = SCOPES.get((principal.kind, "endpoint", VIEW))
    hidden = []
    for endpoint in WebhookEndpoint.objects.all():
        hidden.append(endpoint.secret)
        if scope is None or not scope(principal, endpoint):
            hidden += [endpoint.url, endpoint.description]
            hidden += [str(u) for u in endpoint.deliveries.values_list("event__uuid", flat=True)]
    return hidden


def _pattern(names: list[str]) -> re.Pattern:
    forms = {form for name in names for form in (name, html.escape(name))}
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


# The world ----------------------------------------------------------------------------------


@dataclass
class World:
    sessions: dict[str, str]  # username -> session key
    principals: dict[str, Principal]
    objects: dict[str, list]  # kind of binding -> [(kwargs, object kind, object, label)]


def _assign(subscription, contact, by):
    subscription.refresh_from_db()
    support_contact_assign(
        subscription=subscription, contact=contact, by=by, expected_version=subscription.version
    )


def _build_world() -> World:
    call_command("seed_demo", stdout=io.StringIO())
    user = {u.username: u for u in User.objects.all()}
    partner = {p.name: p for p in Partner.objects.all()}
    contoso, proseware = partner["Contoso Distribution"], partner["Proseware Distribution"]
    fabrikam, northwind = partner["Fabrikam Solutions"], partner["Northwind Traders IT"]
    adatum = Customer.objects.get(domain="adatum.example")

    # A pending request from Contoso for Northwind with DAP to Adatum.
    relationship_request_create(
        customer=adatum, partner=northwind, include_delegated_admin=True, by=user["adminagent"]
    )
    # One made by Proseware: Adatum withdrew its DAP, and Proseware asks for it again (its only
    # customer, and everyone else there already has DAP).
    delegated_admin_remove(
        relationship=CustomerRelationship.objects.get(partner=proseware, customer=adatum),
        by=user["adatumadmin"],
    )
    relationship_request_create(
        customer=adatum, partner=proseware, include_delegated_admin=True, by=user["proseware"]
    )
    # A partnership request from Proseware to Trey Research.
    reseller_partnership_request(
        provider=proseware, partner_id=partner["Trey Research"].partner_id, by=user["proseware"]
    )
    # Fabrikam supports a Contoso subscription too.
    _assign(
        adatum.subscriptions.get(offer_name="Office 365 Business Premium"),
        fabrikam,
        user["adminagent"],
    )
    # History before Fabrikam was designated: at Lamna Healthcare (where Northwind holds DAP),
    # Office 365 E1 goes to Northwind and back; then Lamna accepts Fabrikam with DAP, and
    # Fabrikam becomes its contact. Fabrikam may see only the last change.
    lamna = Customer.objects.get(name="Lamna Healthcare")
    assert CustomerRelationship.objects.filter(
        partner=northwind, customer=lamna, state="active", delegated_admin=True
    ).exists(), "the demo seed changed: pick another customer where Northwind holds DAP"
    e1 = lamna.subscriptions.get(offer_name="Office 365 E1", provider=contoso)
    _assign(e1, northwind, user["helpdeskagent"])
    _assign(e1, contoso, user["helpdeskagent"])
    invitation = relationship_request_create(
        customer=lamna, partner=fabrikam, include_delegated_admin=True, by=user["adminagent"]
    )
    lamna_admin = factories.CustomerAdminFactory(
        customer=lamna, username="lamnaadmin", first_name="Lena", last_name="Lamna"
    )
    relationship_request_accept(request=invitation, by=lamna_admin)
    _assign(e1, fabrikam, user["adminagent"])

    # Bulk changes: Contoso's, one done (Adatum's subscriptions to Contoso: nothing moves, so
    # no name reaches a page it must not) and one previewed; Proseware's, previewed.
    done = bulk.bulk_preview_create(
        by=user["adminagent"], subscriptions=Q(customer=adatum), contact=contoso, criteria={}
    )
    bulk.bulk_operation_submit(operation_id=done.pk, by=user["adminagent"])
    bulk.bulk_preview_create(
        by=user["helpdeskagent"], subscriptions=Q(customer=lamna), contact=contoso, criteria={}
    )
    bulk.bulk_preview_create(
        by=user["proseware"], subscriptions=Q(customer=adatum), contact=proseware, criteria={}
    )

    # A Contoso admin agent, signed in, then deactivated.
    former = factories.StaffUserFactory(
        partner=contoso,
        username="formeragent",
        first_name="Frida",
        last_name="Former",
        roles=[Role.ADMIN_AGENT],
    )
    # Global admins of Proseware and Fabrikam; webhook endpoints of Contoso (two), Proseware and
    # Fabrikam, each with a delivery; an email delivery to Contoso (reached by no webhook page).
    for username, partner_name in (
        ("prosewareadmin", "Proseware Distribution"),
        ("fabrikamadmin", "Fabrikam Solutions"),
    ):
        user[username] = factories.StaffUserFactory(
            partner=partner[partner_name], username=username, roles=[Role.GLOBAL_ADMIN]
        )
    for name, owner in (
        ("contoso-psa", contoso),
        ("contoso-tickets", contoso),
        ("proseware-crm", proseware),
        ("fabrikam-rmm", fabrikam),
    ):
        endpoint = factories.WebhookEndpointFactory(
            partner=owner,
            url=f"https://93.184.215.14/{name}/events",
            description=f"Endpoint {name}",
        )
        factories.DeliveryFactory(endpoint=endpoint)
    factories.DeliveryFactory(
        endpoint=None, partner=contoso, channel="email", address="alerts@contoso.example"
    )
    # An API token of every staff principal (the deactivated one's made before).
    for username, (kind, _role) in PRINCIPALS.items():
        if kind in (PROVIDER, RESELLER, INACTIVE):
            owner = user.get(username) or former
            api_token_issue(user=owner, name=f"Nightly sync of {username}")
    sessions = {}
    for username in PRINCIPALS:
        if username != "anonymous":
            client = Client()
            client.force_login(user.get(username) or former)
            sessions[username] = client.session.session_key
    user_deactivate(user=former, by=user["globaladmin"])

    return World(sessions=sessions, principals=_principals(), objects=_objects(adatum, lamna))


def _principals() -> dict[str, Principal]:
    principals = {}
    for username, (kind, role) in PRINCIPALS.items():
        u = User.objects.filter(username=username).first()
        partner_id = getattr(u, "partner_id", None)
        principals[username] = Principal(
            username=username,
            kind=kind,
            capabilities=frozenset(DOMAIN_ROLE_TABLE[role]) if role else frozenset(),
            user_id=getattr(u, "pk", None),
            partner_id=partner_id,
            customer_id=getattr(u, "customer_id", None),
            customers=frozenset(
                CustomerRelationship.objects.filter(
                    partner_id=partner_id, state="active"
                ).values_list("customer_id", flat=True)
            ),
            known_resellers=frozenset(
                ResellerPartnership.objects.filter(provider_id=partner_id).values_list(
                    "reseller_id", flat=True
                )
            ),
        )
    return principals


# The demo world's Contoso-only customers (no other partner, no request, no history) are
# clones as far as access goes: every principal's answer is the same for each. The suite asks
# about every one of them; TENANT_MATRIX_SAMPLE=1 asks about CLONES_SAMPLED only (a quick run).
CLONES_SAMPLED = 4
ALL_OBJECTS = os.environ.get("TENANT_MATRIX_SAMPLE") != "1"


def _customers_in_focus(contoso_id: int) -> set[int]:
    customers = Customer.objects.order_by("name")
    tied = (
        set(
            CustomerRelationship.objects.exclude(partner_id=contoso_id).values_list(
                "customer_id", flat=True
            )
        )
        | set(RelationshipRequest.objects.values_list("customer_id", flat=True))
        | set(SupportContactChange.objects.values_list("subscription__customer_id", flat=True))
    )
    if ALL_OBJECTS:
        return set(customers.values_list("pk", flat=True))
    clones = customers.exclude(pk__in=tied).values_list("pk", flat=True)[:CLONES_SAMPLED]
    return tied | set(clones)


def _objects(adatum, lamna) -> dict[str, list]:
    """Every object, bound into the URL parameters that fit it (nested ones: see CLONES_SAMPLED);
    objects of Adatum and Lamna also under the other's customer id (a wrong parent: not found)."""
    focus = _customers_in_focus(Partner.objects.get(name="Contoso Distribution").pk)
    wrong_customer = {adatum.pk: lamna.pk, lamna.pk: adatum.pk}

    def nested(kind, rows, customer_of, label_of, **id_of):
        bindings = []
        for obj in rows:
            ids = {param: get(obj) for param, get in id_of.items()}
            customer_id = customer_of(obj)
            bindings.append(({"customer_id": customer_id, **ids}, kind, obj, label_of(obj)))
            if customer_id in wrong_customer:
                kwargs = {"customer_id": wrong_customer[customer_id], **ids}
                bindings.append((kwargs, kind, None, label_of(obj) + " (wrong customer)"))
        return bindings

    def flat(kind, rows, label_of, **id_of):
        return [
            ({param: get(obj) for param, get in id_of.items()}, kind, obj, label_of(obj))
            for obj in rows
        ]

    def pk(obj):
        return obj.pk

    subscriptions = Subscription.objects.filter(customer_id__in=focus).select_related("customer")
    changes = SupportContactChange.objects.select_related("subscription")  # all: all in focus
    requests = list(RelationshipRequest.objects.select_related("partner", "customer"))
    relationships = list(
        CustomerRelationship.objects.filter(customer_id__in=focus).select_related(
            "partner", "customer"
        )
    )

    contoso_agent = User.objects.get(username="adminagent")

    def request_label(rq):
        return f"request {rq.partner.name} @ {rq.customer.name}"

    def relationship_label(r):
        return f"{r.partner.name} @ {r.customer.name}"

    return {
        "none": [({}, None, None, "")],
        "request_link": [
            (
                {
                    "link": relationship_request_link(
                        partner=contoso_agent.partner, by=contoso_agent, delegated_admin=True
                    )
                },
                None,
                None,
                "",
            )
        ],
        "password_link": [({"uidb64": "sample", "token": "sample"}, None, None, "")],
        "customer": flat("customer", Customer.objects.all(), lambda c: c.name, customer_id=pk),
        "subscription": nested(
            "subscription",
            subscriptions,
            lambda s: s.customer_id,
            lambda s: f"{s.offer_name} @ {s.customer.name}",
            subscription_id=pk,
        ),
        "change": nested(
            "change",
            changes,
            lambda ch: ch.subscription.customer_id,
            lambda ch: f"change {ch.pk} of {ch.subscription.offer_name}",
            subscription_id=lambda ch: ch.subscription_id,
            change_id=pk,
        ),
        "customer_request": nested(
            "request", requests, lambda rq: rq.customer_id, request_label, request_id=pk
        ),
        "customer_relationship": nested(
            "relationship",
            relationships,
            lambda r: r.customer_id,
            relationship_label,
            relationship_id=pk,
        ),
        "relationship": flat("relationship", relationships, relationship_label, relationship_id=pk),
        "request": flat("request", requests, request_label, request_id=pk),
        "token": flat("request", requests, request_label, token=lambda rq: rq.token),
        "partnership": flat(
            "partnership",
            ResellerPartnership.objects.select_related("provider", "reseller"),
            str,
            partnership_id=pk,
        ),
        "user": flat("user", User.objects.all(), lambda u: u.username, user_id=pk),
        "bulk_operation": flat("bulk_operation", BulkOperation.objects.all(), str, operation_id=pk),
        "api_token": flat(
            "api_token",
            ApiToken.objects.annotate(partner_id=F("user__partner_id")),
            lambda t: t.name,
            token_id=pk,
        ),
        "endpoint": flat("endpoint", WebhookEndpoint.objects.order_by("pk"), str, endpoint_id=pk),
        "delivery": _deliveries(),
    }


def _deliveries() -> list:
    """Each webhook delivery under its endpoint; under another endpoint of the same partner, and
    an email delivery under an endpoint of its partner: neither is found."""
    bindings = []
    endpoints = list(WebhookEndpoint.objects.order_by("pk"))
    for delivery in Delivery.objects.select_related("endpoint").order_by("pk"):
        label = f"delivery {delivery.pk} to {delivery.endpoint or delivery.address}"
        partners = [e for e in endpoints if e.partner_id == delivery.partner_id]
        if delivery.endpoint_id:
            kwargs = {"endpoint_id": delivery.endpoint_id, "delivery_id": delivery.pk}
            bindings.append((kwargs, "delivery", delivery, label))
        other = next((e for e in partners if e.pk != delivery.endpoint_id), None)
        if other is not None:
            kwargs = {"endpoint_id": other.pk, "delivery_id": delivery.pk}
            bindings.append((kwargs, "delivery", None, label + " (wrong endpoint)"))
    return bindings


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The demo world plus the requests and changes above, built once for the module and
    rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


# What is expected ---------------------------------------------------------------------------

LOGIN = "partnercenter:login"  # a 302 to the sign-in page
OK = "2xx/3xx"


def refused_at_the_gate(principal: Principal, rule: RouteRule, method: str) -> object | None:
    """LOGIN, 405 or 403 where the route's gate refuses `principal` whatever the object (the
    sign-in middleware, the method and the policy decorators decide before any lookup); None
    where the object decides."""
    gate = rule.methods.get(method)
    signed_in = principal.kind not in (ANONYMOUS, INACTIVE)
    if not signed_in and not {g.gate for g in rule.methods.values()} <= OPEN_GATES:
        return LOGIN
    if gate is None:
        return 405
    if gate.gate == CUSTOMER_ADMIN and principal.kind != CUSTOMER_ADMIN_KIND:
        return 403
    if gate.gate == STAFF and principal.kind not in (PROVIDER, RESELLER):
        return 403
    if isinstance(gate.gate, Capability) and gate.gate not in principal.capabilities:
        return 403
    return None


def expected(principal: Principal, rule: RouteRule, method: str, obj_kind, obj) -> object:
    """The answer DOMAIN.md and the access spec call for: a status, LOGIN or OK."""
    refusal = refused_at_the_gate(principal, rule, method)
    if refusal is not None:
        return refusal
    gate = rule.methods[method]
    signed_in = principal.kind not in (ANONYMOUS, INACTIVE)
    if gate.gate == LANGUAGE:
        return 302
    if gate.gate == PUBLIC:
        return 200
    if gate.gate == SIGN_IN_PAGE:
        return 302 if signed_in else 200
    if gate.gate == SIGNED_IN:
        return OK
    if gate.gate == INVITEE:  # the customer's admin is let in; anyone else is told it is not theirs
        mine = principal.kind == CUSTOMER_ADMIN_KIND and obj.customer_id == principal.customer_id
        return 302 if mine else 403
    if gate.action is None:
        return OK
    if gate.action == PROVIDERS_ONLY:
        return OK if principal.kind == PROVIDER else 403
    if gate.action == RESELLERS_ONLY:
        return OK if principal.kind == RESELLER else 403
    if obj is None:  # an object under the wrong customer
        return 404
    scope = SCOPES.get((principal.kind, obj_kind, gate.action))
    return OK if scope is not None and scope(principal, obj) else 404


def _matches(want, response) -> bool:
    if want == LOGIN:
        return response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    if want == OK:
        return 200 <= response.status_code < 400
    return response.status_code == want


# The matrix ---------------------------------------------------------------------------------


def _url(name: str, kwargs: dict) -> str:
    return reverse(name, kwargs=kwargs)


def _body(response) -> str | None:
    content_type = response.get("Content-Type", "")
    if not any(t in content_type for t in ("text/", "json", "xml", "csv")):
        return None  # binary
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(response.charset or "utf-8", errors="replace")


@dataclass
class Mismatch:
    principal: str
    method: str
    url: str
    route: str
    object: str
    htmx: bool
    expected: object
    got: object
    leak: list[str] = field(default_factory=list)

    def __str__(self):
        what = f"leaks {self.leak}" if self.leak else f"expected {self.expected}, got {self.got}"
        hx = " (htmx)" if self.htmx else ""
        return f"{self.principal} {self.method} {self.url}{hx} [{self.route}: {self.object}] {what}"


def test_every_url_is_in_the_matrix():
    """A new URL fails here until the matrix says who may use it."""
    routes = {r.name for r in product_routes()}
    assert routes == set(ROUTES)


@dataclass(frozen=True)
class Ask:
    route: str
    method: str
    url: str
    label: str
    htmx: bool
    headers: dict
    want: object


def _asks(principal: Principal, world: World):
    """Every request of the matrix for `principal`, with the answer it should get."""
    for name, rule in ROUTES.items():
        objects = world.objects[rule.params]
        for index, (kwargs, obj_kind, obj, label) in enumerate(objects):
            url = _url(name, kwargs)
            for method in ("GET", "POST"):
                gated = refused_at_the_gate(principal, rule, method) is not None
                if gated and index not in (0, len(objects) - 1):
                    continue  # refused before any lookup: the first and last object say it
                want = expected(principal, rule, method, obj_kind, obj)
                yield Ask(name, method, url, label, False, {}, want)
                headers = {"HTTP_HX_REQUEST": "true"}
                if rule.partial:
                    headers["HTTP_HX_TARGET"] = rule.partial
                yield Ask(name, method, url, label, True, headers, want)


@pytest.fixture(scope="module")
def matrix_size(pytestconfig):
    """Requests per principal; the total is written when the module ends."""
    sizes = {}
    yield sizes
    _write(pytestconfig, f"tenant matrix: {sum(sizes.values())} requests in all")


def _write(pytestconfig, line: str) -> None:
    """A line on the terminal even when the test passes (for quoting the matrix's size)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


@pytest.mark.django_db
@pytest.mark.parametrize("username", list(PRINCIPALS))
def test_tenant_matrix(username, world, matrix_size, pytestconfig, caplog):
    caplog.set_level(logging.ERROR, logger="django.request")  # 403/404/405 are expected here
    principal = world.principals[username]
    client = Client(raise_request_exception=False)
    session = world.sessions.get(username)
    forbidden = _pattern(
        [*_never_seen(username), *_tokens_never_seen(principal), *_webhooks_never_seen(principal)]
    )
    mismatches, outcomes = [], Counter()
    for ask in _asks(principal, world):
        client.cookies.clear()  # no message, language or sign-out carried over
        if session:
            client.cookies[settings.SESSION_COOKIE_NAME] = session
        with transaction.atomic():
            response = client.generic(ask.method, ask.url, **ask.headers)
            body = _body(response)
            transaction.set_rollback(True)
        outcomes[str(ask.want)] += 1
        seen = sorted(set(forbidden.findall(body))) if body else []
        if not _matches(ask.want, response) or seen:
            mismatches.append(
                Mismatch(
                    username,
                    ask.method,
                    ask.url,
                    ask.route,
                    ask.label,
                    ask.htmx,
                    ask.want,
                    response.status_code,
                    seen,
                )
            )
    requests = matrix_size[username] = sum(outcomes.values())
    _write(
        pytestconfig,
        f"tenant matrix: {username}: {requests} requests ({dict(sorted(outcomes.items()))}), "
        f"{len(mismatches)} mismatches",
    )
    if path := os.environ.get("TENANT_MATRIX_REPORT"):  # every mismatch, one JSON a line
        with open(path, "a", encoding="utf-8") as report:
            for m in mismatches:
                report.write(json.dumps(m.__dict__, default=str, ensure_ascii=False) + "\n")
    shown = "\n".join(str(m) for m in mismatches[:30])
    assert not mismatches, f"{len(mismatches)} of {requests} requests mismatched:\n{shown}"
