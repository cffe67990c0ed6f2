"""A distributor's real size for `seed_demo`: bulk customers, resellers and contact history.

Rows are generated as tuples and loaded in chunks: with COPY on PostgreSQL (seconds for a
million rows), with `bulk_create` elsewhere. The world stays consistent with docs/domain.md:
every designated contact is eligible, and every change of it has its history row.
"""

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from customers.models import Customer, Subscription, SupportContactChange
from partnercenter.models import Partner, User, default_notification_topics
from partnercenter.roles import Capability, roles_with
from partnercenter.statement_timeout import statement_timeout_lifted
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership

CHUNK = 10_000  # customers generated and loaded at a time, so memory stays flat
BATCH = 2_000  # rows per bulk_create (databases without COPY)
HISTORY_DAYS = 730  # the history spans the last two years

# Generated tenant ids derive from unique keys (a domain, a partner id): repeatable with --seed
# and never the same twice.
_TENANTS = uuid.UUID("0b7f3c52-58a4-4d1e-9d0e-3f4c8e2a9b61")


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)  # "base", "multi-channel": what was added
    notes: list[str] = field(default_factory=list)  # what the counts alone do not say

    def add(self, what: str, count: int = 1) -> None:
        if count:
            self.created[what] = self.created.get(what, 0) + count

    @property
    def changed(self) -> bool:
        return bool(self.created)


@transaction.atomic
def grow(
    provider: Partner, *, customers: int, resellers: int, history: int, seed: int | None = None
) -> SeedReport:
    """Add resellers, customers, the resellers' relationships, then history; all or nothing.

    Resellers come first so that the new customers' reseller relationships can draw on them.
    Without the statement timeout: a million history rows go through one COPY.
    """
    statement_timeout_lifted()
    rng = random.Random(seed)
    report = SeedReport()
    new_resellers = add_resellers(resellers, provider=provider, rng=rng, report=report)
    if customers:
        added = add_customers(
            names=generated_company_names(customers, seed=seed),
            provider=provider,
            resellers=active_resellers_of(provider),
            seed=seed,
        )
        for what, count in added.created.items():
            report.add(what, count)
    relate_resellers(new_resellers, rng=rng, report=report)
    add_history(history, provider=provider, rng=rng, report=report)
    return report


# Loading ----------------------------------------------------------------------------------------


def _new_ids(model, count: int) -> list[int]:
    """Primary keys for `count` rows about to be inserted, so rows can refer to them at once."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [model._meta.db_table, model._meta.pk.column, count],
            )
            return [pk for (pk,) in cursor.fetchall()]
    # Elsewhere the ids after the highest: the seeding transaction holds the database's write
    # lock (SQLite's transaction_mode is IMMEDIATE), so nobody else takes them meanwhile.
    top = model.objects.aggregate(top=Max("pk"))["top"] or 0
    return list(range(top + 1, top + 1 + count))


def _insert(model, columns: list[str], rows) -> int:
    """Insert `rows` (tuples of values for the attnames `columns`); returns how many."""
    if connection.vendor == "postgresql":
        return _copy(model._meta.db_table, columns, rows)
    count = 0
    rows = iter(rows)
    while batch := list(islice(rows, BATCH)):
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in batch])
        count += len(batch)
    return count


def _json(value):
    """A JSON column's value for `_insert`: text for COPY, the object for the ORM."""
    return json.dumps(value) if connection.vendor == "postgresql" else value


def _copy(table: str, columns: list[str], rows) -> int:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


# The tables this module fills.
BULK_TABLES = (
    Partner,
    ResellerPartnership,
    Customer,
    CustomerRelationship,
    Subscription,
    SupportContactChange,
)


def analyze_bulk_tables() -> None:
    """Give the planner statistics for the freshly bulk-loaded tables.

    Without them PostgreSQL guessed a few rows and chose nested loops (the dashboard took 1.7 s
    instead of 31 ms after `--customers 10000`), and SQLite looked relationships up by partner
    rather than by customer (the History export of 100,000 rows: 33 s of queries, then 1 s).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        statement_timeout_lifted()  # tables of a million rows: not a request's work
        for model in BULK_TABLES:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# Customers --------------------------------------------------------------------------------------

OFFERS = [
    # (offer, billing cycle, term, commerce type)
    ("Office 365 E1", "monthly", "P1Y", "legacy"),
    ("Office 365 E3", "annual", "P1Y", "legacy"),
    ("Office 365 Business Premium", "monthly", "P1Y", "legacy"),
    ("Microsoft 365 E3", "annual", "P1Y", "legacy"),
    ("Microsoft 365 Business Standard", "monthly", "P1Y", "legacy"),
    ("Exchange Online (Plan 1)", "monthly", "P1Y", "legacy"),
    ("Power BI Pro", "monthly", "P1M", "new_commerce"),
    ("Microsoft Teams Essentials", "monthly", "P1M", "new_commerce"),
    ("Dynamics 365 Sales Professional", "annual", "P1Y", "new_commerce"),
    ("Visio Plan 2", "annual", "P3Y", "new_commerce"),
    ("Project Plan 3", "monthly", "P1Y", "legacy"),
    ("Microsoft Defender for Office 365 (Plan 1)", "annual", "P1Y", "legacy"),
]

NICKNAMES = ["", "", "Head office", "Sales", "Finance", "Warehouse", "Branch offices", "IT"]

CUSTOMER_COLUMNS = ["id", "tenant_id", "domain", "name"]
RELATIONSHIP_COLUMNS = [
    "partner_id",
    "customer_id",
    "state",
    "delegated_admin",
    "created_at",
    "updated_at",
]
SUBSCRIPTION_COLUMNS = [
    "customer_id",
    "offer_name",
    "nickname",
    "quantity",
    "status",
    "billing_cycle",
    "term",
    "commerce_type",
    "auto_renew",
    "created_at",
    "provider_id",
    "support_contact_id",
    "version",
    "uuid",
]


def active_resellers_of(provider: Partner) -> list[Partner]:
    """The resellers with an active partnership with `provider`, by name (a stable order)."""
    return list(
        Partner.objects.resellers()
        .filter(
            provider_partnerships__provider=provider,
            provider_partnerships__state=RelationshipState.ACTIVE,
        )
        .order_by("name", "pk")
    )


def generated_company_names(count: int, *, seed: int | None = None) -> list[str]:
    """Realistic company names from Faker (names may repeat; domains are made unique)."""
    from faker import Faker

    faker = Faker("en_US")
    if seed is not None:
        faker.seed_instance(seed)
    return [faker.company() for _ in range(count)]


def _unique_domains(names: list[str], taken: set[str], fallback: str) -> list[str]:
    domains = []
    for name in names:
        base = slugify(name)[:60].strip("-") or fallback
        domain, n = f"{base}.example", 1
        while domain in taken:
            n += 1
            domain = f"{base}-{n}.example"
        taken.add(domain)
        domains.append(domain)
    return domains


@transaction.atomic
def add_customers(
    *, names: list[str], provider: Partner, resellers: list[Partner], seed=None
) -> SeedReport:
    """Add customers of `provider` with 1–5 subscriptions each, in bulk.

    About a quarter of them also work with a reseller, most of those with DAP, so that
    eligibility varies from customer to customer.
    """
    rng = random.Random(seed)
    report = SeedReport()
    taken = set(Customer.objects.values_list("domain", flat=True))
    domains = _unique_domains(names, taken, "customer")
    ids = _new_ids(Customer, len(names))
    reseller_ids = [r.pk for r in resellers]
    now = timezone.now()
    for start in range(0, len(names), CHUNK):
        customers, relationships, subscriptions = [], [], []
        for pk, name, domain in zip(
            ids[start : start + CHUNK],
            names[start : start + CHUNK],
            domains[start : start + CHUNK],
            strict=True,
        ):
            customers.append((pk, uuid.uuid5(_TENANTS, domain), domain, name))
            more_relationships, more_subscriptions = _customer_rows(
                rng, pk, provider.pk, reseller_ids, now
            )
            relationships += more_relationships
            subscriptions += more_subscriptions
        report.add("customers", _insert(Customer, CUSTOMER_COLUMNS, customers))
        report.add(
            "customer relationships",
            _insert(CustomerRelationship, RELATIONSHIP_COLUMNS, relationships),
        )
        report.add("subscriptions", _insert(Subscription, SUBSCRIPTION_COLUMNS, subscriptions))
    return report


def _customer_rows(rng, customer: int, provider: int, resellers: list[int], now):
    """One customer's relationships (the provider's, perhaps a reseller's) and subscriptions."""
    partners = [(provider, True)]
    if resellers and rng.random() < 0.25:
        partners.append((rng.choice(resellers), rng.random() < 0.7))
    subscriptions = []
    for offer, cycle, term, commerce in rng.sample(OFFERS, rng.randint(1, 5)):
        nickname = rng.choice(NICKNAMES)
        quantity = rng.choice([1, 5, 10, 15, 25, 50, 100, 250])
        status = rng.choices(["active", "suspended", "pending"], weights=[90, 6, 4])[0]
        auto_renew = rng.random() < 0.85
        created_at = now - timedelta(days=rng.randint(1, 900))
        subscriptions.append(
            (
                *(customer, offer, nickname, quantity, status, cycle, term, commerce, auto_renew),
                *(created_at, provider, provider, 1),  # contact: the provider; version 1
                # The API's id: unique (one offer per customer), and no draw from rng.
                uuid.uuid5(_TENANTS, f"subscription {customer} {offer}"),
            )
        )
    # The customer's partners have worked with it since its first subscription.
    since = min(s[9] for s in subscriptions)
    relationships = [_relationship(p, customer, dap, since, now) for p, dap in partners]
    return relationships, subscriptions


def _relationship(partner: int, customer: int, dap: bool, since, now) -> tuple:
    """An active relationship, as a row of RELATIONSHIP_COLUMNS."""
    return (partner, customer, RelationshipState.ACTIVE, dap, since, now)


# Resellers --------------------------------------------------------------------------------------

RESELLER_SUFFIXES = [
    "IT",
    "IT Services",
    "Technologies",
    "Cloud Solutions",
    "Systems",
    "Consulting",
    "Networks",
    "Digital",
    "Computer Services",
    "Managed Services",
]

# Numbers reserved for fiction (North America's 555-01xx, the UK's 020 7946 0xxx...), each
# template a valid E.164 number whatever its last digit.
PHONES = [
    "+1206555010{}",
    "+1312555010{}",
    "+1415555011{}",
    "+1425555012{}",
    "+1512555013{}",
    "+1646555014{}",
    "+44207946010{}",
    "+3120555014{}",
    "+4144555010{}",
    "+6129555011{}",
]

SUPPORT_HOURS = [
    "24/7",
    "Mon–Fri 08:00–18:00 CET",
    "Mon–Fri 09:00–17:30 GMT",
    "Mon–Sat 07:00–19:00 PT",
    "Mon–Fri 08:00–20:00 ET",
    "Mon–Fri 08:30–17:30 AEST",
]

PARTNER_COLUMNS = [
    "id",
    "kind",
    "tenant_id",
    "partner_id",
    "name",
    "support_email",
    "support_phone",
    "support_website",
    "support_hours",
    "notification_email",
    "notification_language",
    "notification_topics",
]
PARTNERSHIP_COLUMNS = ["provider_id", "reseller_id", "state", "created_at", "updated_at"]


def add_resellers(count: int, *, provider: Partner, rng, report: SeedReport) -> list[int]:
    """`count` new indirect resellers with a full support profile and an active partnership
    with `provider` (since before the history began); returns their ids."""
    if not count:
        return []
    names = _reseller_names(count, rng)
    taken = {
        email.split("@")[-1] for email in Partner.objects.values_list("support_email", flat=True)
    }
    domains = _unique_domains(names, taken, "reseller")
    partner_ids = _new_partner_ids(count, rng)
    ids = _new_ids(Partner, count)
    topics = _json(default_notification_topics())
    rows = [
        (
            *(pk, Partner.Kind.INDIRECT_RESELLER, uuid.uuid5(_TENANTS, f"partner {partner_id}")),
            *(partner_id, name, f"support@{domain}", rng.choice(PHONES).format(rng.randrange(10))),
            *(f"https://support.{domain}", rng.choice(SUPPORT_HOURS), "", "en", topics),
        )
        for pk, partner_id, name, domain in zip(ids, partner_ids, names, domains, strict=True)
    ]
    report.add("resellers", _insert(Partner, PARTNER_COLUMNS, rows))
    now = timezone.now()
    partnerships = [
        (provider.pk, pk, RelationshipState.ACTIVE, _before_the_history(rng, now), now)
        for pk in ids
    ]
    report.add(
        "reseller partnerships", _insert(ResellerPartnership, PARTNERSHIP_COLUMNS, partnerships)
    )
    return ids


def _reseller_names(count: int, rng) -> list[str]:
    from faker import Faker

    faker = Faker("en_US")
    faker.seed_instance(rng.random())
    return [f"{faker.last_name()} {rng.choice(RESELLER_SUFFIXES)}" for _ in range(count)]


def _new_partner_ids(count: int, rng) -> list[str]:
    """Seven digits, like the demo world's, unused by any partner."""
    taken = set(Partner.objects.values_list("partner_id", flat=True))
    ids = []
    while len(ids) < count:
        candidate = str(rng.randrange(5_200_000, 10_000_000))
        if candidate not in taken:
            taken.add(candidate)
            ids.append(candidate)
    return ids


def _before_the_history(rng, now):
    return now - timedelta(days=rng.randint(HISTORY_DAYS + 1, 3 * HISTORY_DAYS))


def relate_resellers(resellers: list[int], *, rng, report: SeedReport) -> None:
    """About a third of `resellers` work with a few customers each, most with DAP."""
    working = [pk for pk in resellers if rng.random() < 1 / 3]
    if not working:
        return
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    # Customers added in this run may have drawn one of them already: one live row per pair.
    taken = set(
        CustomerRelationship.objects.live()
        .filter(partner_id__in=working)
        .values_list("partner_id", "customer_id")
    )
    now = timezone.now()
    rows = [
        _relationship(pk, customer, rng.random() < 0.7, _before_the_history(rng, now), now)
        for pk in working
        for customer in rng.sample(customers, min(len(customers), rng.randint(1, 25)))
        if (pk, customer) not in taken
    ]
    report.add("customer relationships", _insert(CustomerRelationship, RELATIONSHIP_COLUMNS, rows))


# History ----------------------------------------------------------------------------------------

HISTORY_COLUMNS = [
    "subscription_id",
    "from_contact_id",
    "to_contact_id",
    "changed_by_id",
    "changed_at",
    "through",
]


@dataclass
class _Candidate:
    """A subscription whose designated contact can change: it has a second eligible contact."""

    pk: int
    contact: int
    version: int
    start: object  # a datetime: changes come after it
    eligible: list[int] = field(default_factory=list)


def add_history(count: int, *, provider: Partner, rng, report: SeedReport) -> None:
    """`count` changes of `provider`'s subscriptions' designated contacts over the last two
    years, each between contacts eligible for that subscription, made through the form by the
    provider's staff; then each subscription gets its last contact and a matching version."""
    if not count:
        return
    now = timezone.now()
    candidates = _history_candidates(provider, now)
    staff = list(
        User.objects.filter(
            partner=provider,
            is_active=True,
            role_assignments__role__in=roles_with(Capability.ASSIGN_SUPPORT_CONTACT),
        )
        .order_by("pk")
        .distinct()
        .values_list("pk", flat=True)
    )
    if not candidates or not staff:
        report.notes.append(
            f"No history added: no subscription of {provider} has a second eligible contact, "
            "or no staff of it may assign one."
        )
        return
    touched = min(count, len(candidates))
    each, longer = divmod(count, touched)
    chains = [
        (candidate, each + (i < longer))
        for i, candidate in enumerate(rng.sample(candidates, touched))
    ]
    updates = []
    rows = (
        row
        for candidate, length in chains
        for row in _chain(candidate, length, staff, rng, now, updates)
    )
    report.add("support contact changes", _insert(SupportContactChange, HISTORY_COLUMNS, rows))
    _set_contacts(updates)
    report.notes.append(
        f"History: {count} changes on {touched} of the {len(candidates)} subscriptions that have "
        f"a second eligible contact, {each}{f'–{each + 1}' if longer else ''} each."
    )


def _history_candidates(provider: Partner, now) -> list[_Candidate]:
    """`provider`'s legacy subscriptions with at least one eligible reseller (the rule of
    customers/eligibility.py, for all of them at once), whose contact is eligible now."""
    pairs = (
        Subscription.objects.filter(
            provider=provider,
            commerce_type=Subscription.CommerceType.LEGACY,
            customer__relationships__state=RelationshipState.ACTIVE,
            customer__relationships__delegated_admin=True,
            customer__relationships__partner__provider_partnerships__provider=provider,
            customer__relationships__partner__provider_partnerships__state=RelationshipState.ACTIVE,
        )
        .order_by("pk", "customer__relationships__partner_id")
        .values_list(
            "pk",
            "support_contact_id",
            "version",
            "created_at",
            "customer__relationships__partner_id",
        )
    )
    last_change = dict(
        SupportContactChange.objects.filter(subscription__provider=provider)
        .order_by()
        .values("subscription_id")
        .annotate(last=Max("changed_at"))
        .values_list("subscription_id", "last")
    )
    earliest = now - timedelta(days=HISTORY_DAYS)
    candidates: dict[int, _Candidate] = {}
    for pk, contact, version, created_at, reseller in pairs.iterator(chunk_size=CHUNK):
        if pk not in candidates:
            start = max(created_at, earliest, last_change.get(pk, earliest))
            candidates[pk] = _Candidate(pk, contact, version, start, [provider.pk])
        candidates[pk].eligible.append(reseller)
    # A day at least, so that a chain's changes do not all fall in the same second.
    return [
        c
        for c in candidates.values()
        if c.contact in c.eligible and now - c.start >= timedelta(days=1)
    ]


def _chain(candidate: _Candidate, length: int, staff: list[int], rng, now, updates: list):
    """`length` history rows for one subscription: from = the previous to, later each time.
    Appends the subscription's final (pk, contact, version) to `updates` when done."""
    span = int((now - candidate.start) / timedelta(microseconds=1))
    offsets = sorted(rng.sample(range(1, span + 1), length))  # distinct: strictly increasing
    contact = candidate.contact
    for offset in offsets:
        to = rng.choice([c for c in candidate.eligible if c != contact])
        yield (
            candidate.pk,
            contact,
            to,
            rng.choice(staff),
            candidate.start + timedelta(microseconds=offset),
            SupportContactChange.Through.FORM,
        )
        contact = to
    updates.append((candidate.pk, contact, candidate.version + length))


def _set_contacts(updates: list[tuple[int, int, int]]) -> None:
    """Give each subscription its last contact and version: (pk, contact, version) each."""
    if connection.vendor != "postgresql":
        Subscription.objects.bulk_update(
            [Subscription(pk=pk, support_contact_id=c, version=v) for pk, c, v in updates],
            ["support_contact", "version"],
            batch_size=BATCH,
        )
        return
    table = connection.ops.quote_name(Subscription._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE seed_contacts (id bigint, contact bigint, v int)")
        _copy("seed_contacts", ["id", "contact", "v"], updates)
        cursor.execute(
            f"UPDATE {table} AS s SET support_contact_id = c.contact, version = c.v "
            "FROM seed_contacts AS c WHERE s.id = c.id"
        )
        cursor.execute("DROP TABLE seed_contacts")
