"""The demo world of docs/domain.md (bulk data for trying it at scale: demo/scale.py)."""

import uuid
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction

from customers.models import Customer, Subscription
from customers.services import support_contact_assign
from demo.scale import SeedReport, add_customers
from events.services import events_muted
from partnercenter.models import Partner, RoleAssignment, User
from partnercenter.roles import Role
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership

DEMO_PASSWORD = "partnercenter-demo"  # Demo data only; printed by the command.

# Stable ids, so the demo world is the same on every machine.
_NAMESPACE = uuid.UUID("6d1c3f0e-2b0a-4f0e-9c55-7a1d3b7e5a10")


def _tenant(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


PROVIDER = {
    "name": "Contoso Distribution",
    "partner_id": "4870001",
    "support_email": "support@contoso-distribution.example",
    "support_phone": "+14255550100",
    "support_website": "https://support.contoso-distribution.example",
    "support_hours": "24/7",
}

RESELLERS = [
    {
        "name": "Fabrikam Solutions",
        "partner_id": "5120042",
        "support_email": "help@fabrikam.example",
        "support_phone": "+31205550142",
        "support_website": "https://help.fabrikam.example",
        "support_hours": "Mon–Fri 08:00–18:00 CET",
    },
    {
        "name": "Northwind Traders IT",
        "partner_id": "5120077",
        "support_email": "servicedesk@northwindtraders.example",
        "support_phone": "+442075550177",
        "support_website": "https://servicedesk.northwindtraders.example",
        "support_hours": "Mon–Fri 09:00–17:30 GMT",
    },
    {
        "name": "Trey Research",
        "partner_id": "5120093",
        "support_email": "support@treyresearch.example",
        "support_phone": "+12065550193",
        "support_website": "https://support.treyresearch.example",
        "support_hours": "Mon–Sat 07:00–19:00 PT",
    },
]

ADATUM = {"name": "Adatum Corporation", "domain": "adatum.example"}

# The multi-channel part (docs/domain.md): a second provider, and two resellers of Contoso's whose
# partnership is not active although they hold DAP for Adatum.
SECOND_PROVIDER = {
    "name": "Proseware Distribution",
    "partner_id": "4870002",
    "support_email": "support@proseware-distribution.example",
    "support_phone": "+4930555010200",
    "support_website": "https://support.proseware-distribution.example",
    "support_hours": "Mon–Fri 07:00–20:00 CET",
}

ALPINE = {
    "name": "Alpine IT Services",
    "partner_id": "5120101",
    "support_email": "support@alpine-it.example",
    "support_phone": "+41445550101",
    "support_website": "https://support.alpine-it.example",
    "support_hours": "Mon–Fri 08:00–17:00 CET",
}

COHO = {
    "name": "Coho Systems",
    "partner_id": "5120117",
    "support_email": "helpdesk@cohosystems.example",
    "support_phone": "+61295550117",
    "support_website": "https://helpdesk.cohosystems.example",
    "support_hours": "Mon–Fri 08:30–17:30 AEST",
}

# Billed through Proseware; Fabrikam Solutions becomes its designated support contact.
SECOND_PROVIDER_SUBSCRIPTION = (
    "Dynamics 365 Business Central Essentials",
    "Finance",
    8,
    "annual",
    "P1Y",
    "legacy",
)

# (offer, nickname, quantity, billing cycle, term, commerce type)
ADATUM_SUBSCRIPTIONS = [
    ("Office 365 Business Premium", "Head office", 25, "monthly", "P1Y", "legacy"),
    ("Microsoft 365 E3", "Engineering", 40, "annual", "P1Y", "legacy"),
    ("Microsoft 365 Business Basic", "Front line", 12, "monthly", "P1M", "new_commerce"),
]

# A few dozen more customers, so that lists page and search finds something.
MORE_CUSTOMERS = [
    "Adventure Works Cycles",
    "Alpine Ski House",
    "Bellows College",
    "Best For You Organics",
    "Blue Yonder Airlines",
    "City Power & Light",
    "Coho Winery",
    "Consolidated Messenger",
    "Contoso Pharmaceuticals",
    "Fincher Architects",
    "First Up Consultants",
    "Fourth Coffee",
    "Graphic Design Institute",
    "Humongous Insurance",
    "Lamna Healthcare",
    "Liberty's Delightful Bakery",
    "Litware Inc.",
    "Lucerne Publishing",
    "Margie's Travel",
    "Munson's Pickles and Preserves",
    "Nod Publishers",
    "Proseware Inc.",
    "Relecloud",
    "School of Fine Art",
    "Southridge Video",
    "Tailspin Toys",
    "Tailwind Traders",
    "VanArsdel Ltd.",
    "Wide World Importers",
    "Wingtip Toys",
    "Woodgrove Bank",
    "Baldwin Museum of Science",
    "Olympia Sports",
    "Boulder Innovations",
    "Cronus Engineering",
    "Kobe Trading",
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    organisation: str  # a partner name or a customer domain
    role: Role | None = None


DEMO_USERS = [
    DemoUser("globaladmin", "Grace", "Lindqvist", PROVIDER["name"], Role.GLOBAL_ADMIN),
    DemoUser("adminagent", "Aaron", "Patel", PROVIDER["name"], Role.ADMIN_AGENT),
    DemoUser("helpdeskagent", "Hanna", "Kovács", PROVIDER["name"], Role.HELPDESK_AGENT),
    DemoUser("salesagent", "Sofia", "Müller", PROVIDER["name"], Role.SALES_AGENT),
    DemoUser("usermgmtadmin", "Umar", "Haddad", PROVIDER["name"], Role.USER_MANAGEMENT_ADMIN),
    DemoUser("fabrikam", "Femke", "de Vries", "Fabrikam Solutions", Role.ADMIN_AGENT),
    DemoUser("proseware", "Pavel", "Novak", SECOND_PROVIDER["name"], Role.ADMIN_AGENT),
    DemoUser("adatumadmin", "Adele", "Vance", ADATUM["domain"]),
]


def demo_world_present() -> bool:
    return Partner.objects.filter(partner_id=PROVIDER["partner_id"]).exists()


def multichannel_part_present() -> bool:
    """Databases seeded before the second provider existed lack it; the next run adds it."""
    return Partner.objects.filter(partner_id=SECOND_PROVIDER["partner_id"]).exists()


@transaction.atomic
def seed_demo_world() -> SeedReport:
    """Create whatever part of the demo world is missing; all of it or nothing."""
    report = SeedReport()
    with events_muted():  # the demo world is history, not news: nobody is told of it
        _seed_missing_parts(report)
    return report


def _seed_missing_parts(report: SeedReport) -> None:
    if not demo_world_present():
        _seed_base_world(report)
        report.parts.append("base")
    if not multichannel_part_present():
        _seed_multichannel_part(report)
        report.parts.append("multi-channel")


def _seed_base_world(report: SeedReport) -> None:
    """Contoso, its three resellers, Adatum and a few dozen more customers: the first world."""
    provider = _partner(Partner.Kind.INDIRECT_PROVIDER, PROVIDER)
    resellers = {r["name"]: _partner(Partner.Kind.INDIRECT_RESELLER, r) for r in RESELLERS}
    report.add("partners", 1 + len(resellers))
    ResellerPartnership.objects.bulk_create(
        ResellerPartnership(provider=provider, reseller=r, state=RelationshipState.ACTIVE)
        for r in resellers.values()
    )
    report.add("reseller partnerships", len(resellers))

    adatum = Customer.objects.create(tenant_id=_tenant(ADATUM["domain"]), **ADATUM)
    CustomerRelationship.objects.bulk_create(
        [
            CustomerRelationship(partner=provider, customer=adatum, delegated_admin=True),
            CustomerRelationship(
                partner=resellers["Fabrikam Solutions"], customer=adatum, delegated_admin=True
            ),
            CustomerRelationship(
                partner=resellers["Northwind Traders IT"], customer=adatum, delegated_admin=False
            ),
        ]
    )
    report.add("customer relationships", 3)
    Subscription.objects.bulk_create(
        _subscription(adatum, provider, *fields) for fields in ADATUM_SUBSCRIPTIONS
    )
    report.add("subscriptions", len(ADATUM_SUBSCRIPTIONS))
    report.add("customers", 1)

    more = add_customers(
        names=MORE_CUSTOMERS, provider=provider, resellers=list(resellers.values()), seed=2026
    )
    for what, count in more.created.items():
        report.add(what, count)

    partners = {provider.name: provider, **resellers}
    _create_demo_users(
        [u for u in DEMO_USERS if u.organisation != SECOND_PROVIDER["name"]],
        partners,
        adatum,
        report,
    )


def _seed_multichannel_part(report: SeedReport) -> None:
    """Proseware bills one of Adatum's subscriptions, supported by Fabrikam (its reseller too);
    Alpine's partnership with Contoso is only requested and Coho's removed, both with DAP."""
    contoso = Partner.objects.get(partner_id=PROVIDER["partner_id"])
    fabrikam = Partner.objects.get(partner_id=RESELLERS[0]["partner_id"])
    adatum = Customer.objects.get(domain=ADATUM["domain"])
    proseware = _partner(Partner.Kind.INDIRECT_PROVIDER, SECOND_PROVIDER)
    alpine = _partner(Partner.Kind.INDIRECT_RESELLER, ALPINE)
    coho = _partner(Partner.Kind.INDIRECT_RESELLER, COHO)
    report.add("partners", 3)
    ResellerPartnership.objects.bulk_create(
        [
            ResellerPartnership(
                provider=proseware, reseller=fabrikam, state=RelationshipState.ACTIVE
            ),
            ResellerPartnership(
                provider=contoso, reseller=alpine, state=RelationshipState.REQUESTED
            ),
            ResellerPartnership(provider=contoso, reseller=coho, state=RelationshipState.REMOVED),
        ]
    )
    report.add("reseller partnerships", 3)
    CustomerRelationship.objects.bulk_create(
        CustomerRelationship(partner=partner, customer=adatum, delegated_admin=True)
        for partner in (proseware, alpine, coho)
    )
    report.add("customer relationships", 3)
    subscription = _subscription(adatum, proseware, *SECOND_PROVIDER_SUBSCRIPTION)
    subscription.save()
    report.add("subscriptions", 1)

    _create_demo_users(
        [u for u in DEMO_USERS if u.organisation == SECOND_PROVIDER["name"]],
        {proseware.name: proseware},
        adatum,
        report,
    )
    # Through the service, as Proseware's staff would: eligibility checked, history recorded.
    support_contact_assign(
        subscription=subscription,
        contact=fabrikam,
        by=User.objects.get(username="proseware"),
        expected_version=subscription.version,
    )
    report.add("support contact changes", 1)


def _partner(kind: str, profile: dict) -> Partner:
    return Partner.objects.create(kind=kind, tenant_id=_tenant(profile["name"]), **profile)


def _subscription(customer, provider, offer, nickname, quantity, cycle, term, commerce):
    return Subscription(
        customer=customer,
        offer_name=offer,
        nickname=nickname,
        quantity=quantity,
        billing_cycle=cycle,
        term=term,
        commerce_type=commerce,
        provider=provider,
        support_contact=provider,
    )


def _create_demo_users(demo_users, partners, adatum, report: SeedReport) -> None:
    password = make_password(DEMO_PASSWORD)
    for demo in demo_users:
        partner = partners.get(demo.organisation)
        user = User.objects.create(
            username=demo.username,
            first_name=demo.first_name,
            last_name=demo.last_name,
            email=f"{demo.username}@{_email_domain(partner, adatum)}",
            password=password,
            partner=partner,
            customer=None if partner else adatum,
            # Demo users sign in with the demo password alone (README: how to require 2FA).
            two_step_exempt=True,
        )
        if demo.role:
            RoleAssignment.objects.create(user=user, role=demo.role)
    report.add("users", len(demo_users))


def _email_domain(partner: Partner | None, customer: Customer) -> str:
    return partner.support_email.split("@", 1)[1] if partner else customer.domain
