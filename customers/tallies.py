"""The dashboard's figures, read from counts the database keeps instead of counted per view.

Counting a distributor's 300,000 subscriptions by designated contact took 114 ms of SQL per
view. `SubscriptionTally` and `CustomerTally` (customers/models.py) hold the same counts; the
triggers of migrations/0005_dashboard_tallies.py change them in the transaction of every write
to a subscription or a customer relationship, so they are exact at every commit, for every
server and worker, with no cache to invalidate.

The figures are what the access policy (partnercenter/policy.py) lets a user VIEW: a provider's
staff, the subscriptions the provider bills of the customers it has an active relationship with;
a reseller's staff, those it is the designated contact of; both, the customers they have an
active relationship with. tests/test_dashboard.py holds them to `restrict(user, VIEW)` after
every kind of write.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Sum

from customers.models import Customer, Subscription, SubscriptionTally
from partnercenter.policy import Action, permits

TOP_CONTACTS = 10


@dataclass(frozen=True)
class ContactCount:
    contact_id: int | None  # None: subscriptions without a designated support contact
    name: str | None
    subscriptions: int


@dataclass(frozen=True)
class Figures:
    customers: int
    subscriptions: int
    contacts: int  # designated contacts with at least one subscription
    top: list[ContactCount]  # the contacts with the most subscriptions, most first

    @property
    def other_contacts(self) -> int:
        return self.contacts - len(self.top)

    @property
    def other_subscriptions(self) -> int:
        return self.subscriptions - sum(row.subscriptions for row in self.top)


def _reader(user) -> str | None:
    """Which tally rows count the subscriptions `user` may view ("provider": those of its
    reached customers, "reseller": those it is the contact of); None: no subscription."""
    if user.partner_id is None or not permits(user, Subscription, Action.VIEW):
        return None
    return "provider" if user.partner.is_provider else "reseller"


# The dashboard's statements in SQL: the ORM spent ten times the database's time building them
# (2.4 ms of CPU per view against 0.2 ms), on a page everyone opens first.
_CUSTOMERS = "SELECT customers FROM customers_customertally WHERE partner_id = %s"
_PER_CONTACT = {  # (contact_id, subscriptions) per designated contact, by reader
    "provider": (  # one row per contact already: (provider, contact, reached) is the key
        "SELECT contact_id, subscriptions FROM customers_subscriptiontally"
        " WHERE provider_id = %s AND reached AND subscriptions > 0"
    ),
    "reseller": (
        "SELECT contact_id, sum(subscriptions) AS subscriptions FROM customers_subscriptiontally"
        " WHERE contact_id = %s GROUP BY contact_id HAVING sum(subscriptions) > 0"
    ),
}
_TOTALS = (
    f"SELECT ({_CUSTOMERS}), coalesce(sum(subscriptions), 0), count(*) FROM ({{per_contact}}) mine"
)
_TOP = (  # in the order of `contact_counts`
    "SELECT mine.contact_id, partner.name, mine.subscriptions FROM ({per_contact}) mine"
    " LEFT JOIN partnercenter_partner partner ON partner.id = mine.contact_id"
    " ORDER BY mine.subscriptions DESC, partner.name NULLS LAST, mine.contact_id LIMIT %s"
)


def figures(user, *, top: int = TOP_CONTACTS) -> Figures:
    """The dashboard of `user`: two small statements, whatever the size of its world."""
    reader = _reader(user)
    sees_customers = user.partner_id is not None and permits(user, Customer, Action.VIEW)
    with connection.cursor() as cursor:
        if reader is None:
            customers = 0
            if sees_customers:
                cursor.execute(_CUSTOMERS, [user.partner_id])
                customers = (cursor.fetchone() or (0,))[0]
            return Figures(customers=customers, subscriptions=0, contacts=0, top=[])
        per_contact = _PER_CONTACT[reader]
        cursor.execute(_TOTALS.format(per_contact=per_contact), [user.partner_id] * 2)
        customers, subscriptions, contacts = cursor.fetchone()
        cursor.execute(_TOP.format(per_contact=per_contact), [user.partner_id, top])
        rows = [ContactCount(*row) for row in cursor.fetchall()]
    return Figures(
        customers=(customers or 0) if sees_customers else 0,
        subscriptions=subscriptions,
        contacts=contacts,
        top=rows,
    )


def contact_counts(user):
    """Every designated contact (`contact_id`, `name`: None for none) with the number of
    subscriptions `user` may view, most first, then by name: the dashboard's list to page."""
    reader = _reader(user)
    if reader is None:
        rows = SubscriptionTally.objects.none().values("contact_id", count=F("subscriptions"))
    elif reader == "provider":  # as _PER_CONTACT says
        rows = SubscriptionTally.objects.filter(
            provider_id=user.partner_id, reached=True, subscriptions__gt=0
        ).values("contact_id", count=F("subscriptions"))
    else:
        rows = (
            SubscriptionTally.objects.filter(contact_id=user.partner_id)
            .values("contact_id")
            .annotate(count=Sum("subscriptions"))
            .filter(count__gt=0)
        )
    return rows.annotate(name=F("contact__name")).order_by(
        "-count", F("name").asc(nulls_last=True), "contact_id"
    )


def customer_count(user) -> int:
    """How many customers `user` may view: the customers list's total, without a count."""
    if user.partner_id is None or not permits(user, Customer, Action.VIEW):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_CUSTOMERS, [user.partner_id])
        return (cursor.fetchone() or (0,))[0]
