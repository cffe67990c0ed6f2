"""The dashboard reads counts the database keeps (customers/tallies.py); they must be exact.

After every kind of write (the seed at scale, Submit, each fall-back, relationship requests and
answers, the back office's adds, changes and deletions, a partner's new name) the dashboard and
its list of every designated support contact must show, for a provider's and a reseller's staff,
exactly what counting from scratch through the access policy gives. The figures are compared
with `restrict(user, VIEW)`, never with the tallies' own reading of them.
"""

import json
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db.models import BooleanField, Count, DateTimeField, F, JSONField
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers import tallies, workflows
from customers.models import Customer, Subscription, SubscriptionTally, SupportContactChange
from customers.services import support_contact_assign
from dashboard.views import RECENT_CHANGES
from demo.scale import grow
from partnercenter.errors import DomainError
from partnercenter.models import Partner, User
from partnercenter.policy import Action
from partnercenter.roles import CAPABILITY_TABLE, Capability, Role
from relationships import services as relationship_services
from relationships.models import CustomerRelationship, RelationshipRequest, RelationshipState
from tests import factories
from tests.concurrency import at_once, needs_postgresql

DASHBOARD = reverse("dashboard:dashboard")
CONTACTS = reverse("dashboard:support_contacts")


def _counted_from_scratch(user) -> dict:
    """What the dashboard must show `user`: the access policy's rows, counted now."""
    subscriptions = Subscription.objects.restrict(user, Action.VIEW)
    per_contact = (
        subscriptions.values("support_contact")
        .annotate(count=Count("pk"), name=F("support_contact__name"))
        .order_by("-count", F("name").asc(nulls_last=True), "support_contact")
    )
    return {
        "customers": Customer.objects.restrict(user, Action.VIEW).count(),
        "subscriptions": subscriptions.count(),
        "contacts": [(r["support_contact"], r["name"], r["count"]) for r in per_contact],
    }


def _shown(client: Client) -> dict:
    """What the dashboard and every page of its list of contacts show the signed-in user."""
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    figures = response.context["figures"]
    listed, number = [], 1
    while True:
        page = client.get(CONTACTS, {"page": number}).context["page"]
        listed += [(row["contact_id"], row["name"], row["count"]) for row in page.object_list]
        if not page.has_next():
            break
        number += 1
    return {
        "customers": figures.customers,
        "subscriptions": figures.subscriptions,
        "contacts": figures.contacts,
        "top": [(row.contact_id, row.name, row.subscriptions) for row in figures.top],
        "listed": listed,
    }


class Watch:
    """Signed-in browsers of the users whose dashboards a test holds to the truth."""

    def __init__(self, *users):
        self.browsers = {}
        for user in users:
            self.browsers[user] = Client()
            self.browsers[user].force_login(user)

    def check(self, step: str) -> None:
        for user, browser in self.browsers.items():
            truth, shown = _counted_from_scratch(user), _shown(browser)
            where = f"after {step}, for {user.username}"
            assert shown["customers"] == truth["customers"], where
            assert shown["subscriptions"] == truth["subscriptions"], where
            assert shown["contacts"] == len(truth["contacts"]), where
            assert shown["top"] == truth["contacts"][: tallies.TOP_CONTACTS], where
            assert shown["listed"] == truth["contacts"], where


def _admin() -> Client:
    admin = User.objects.create_superuser(
        "dashboard-admin", "admin@dashboard.example", "not-a-demo-password", two_step_exempt=True
    )
    browser = Client()
    browser.force_login(admin)
    return browser


def _admin_form(instance, **changes) -> dict:
    """The back office's form data for `instance` with `changes` (a field name: a value)."""
    data = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or not field.editable:
            continue
        value = changes.get(field.name, field.value_from_object(instance))
        if isinstance(field, DateTimeField):
            local = timezone.localtime(value or timezone.now())
            data[f"{field.name}_0"], data[f"{field.name}_1"] = local.strftime(
                "%Y-%m-%d %H:%M:%S"
            ).split()
        elif isinstance(field, BooleanField):
            if value:
                data[field.name] = "on"
        elif isinstance(field, JSONField):
            data[field.name] = json.dumps(value)
        else:
            data[field.name] = "" if value is None else str(getattr(value, "pk", value))
    return data


def _saved(response) -> None:
    """The back office saved (it redirects); an error page would show the form again."""
    assert response.status_code == 302, response.content.decode()[:2000]


def _admin_url(model, action: str, *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{action}", args=args)


@pytest.mark.django_db
def test_every_kind_of_write_leaves_the_dashboard_exact(demo_user, partner_named, adatum, premium):
    contoso, fabrikam = partner_named("Contoso Distribution"), partner_named("Fabrikam Solutions")
    agent, reseller, adatum_admin = (
        demo_user("adminagent"),
        demo_user("fabrikam"),
        demo_user("adatumadmin"),
    )
    watch = Watch(agent, reseller, demo_user("proseware"))
    watch.check("the demo seed")

    grow(contoso, customers=30, resellers=6, history=40, seed=3)
    watch.check("the seed at a larger size (bulk loads, history)")

    staff, customer = Client(), Client()
    staff.force_login(agent)
    customer.force_login(adatum_admin)

    def submit(subscription, contact):
        subscription.refresh_from_db()
        url = reverse(
            "customers:subscription_support_contact",
            args=[subscription.customer_id, subscription.pk],
        )
        staff.post(url, {"contact": contact.pk, "version": subscription.version})
        subscription.refresh_from_db()
        assert subscription.support_contact == contact

    submit(premium, fabrikam)
    watch.check("Submit")

    fabrikams = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum, state="active")
    customer.post(reverse("customers:delegated_admin_remove", args=[fabrikams.pk]))
    premium.refresh_from_db()
    assert premium.support_contact == contoso
    watch.check("the customer withdrawing DAP (fall-back)")

    staff.post(
        reverse("customers:relationship_request_new", args=[adatum.pk]),
        {"partner": fabrikam.pk, "include_delegated_admin": "on"},
    )
    request = RelationshipRequest.objects.get(partner=fabrikam, customer=adatum, state="pending")
    customer.post(reverse("relationships:invitation_accept", args=[request.pk]))
    submit(premium, fabrikam)
    watch.check("a request accepted, then Submit")

    customer.post(reverse("customers:customer_relationship_end", args=[fabrikams.pk]))
    fabrikams.refresh_from_db()
    assert fabrikams.state == RelationshipState.REMOVED
    watch.check("the customer ending a reseller's relationship (fall-backs, two providers)")

    staff.post(
        reverse("customers:relationship_request_new", args=[adatum.pk]),
        {"partner": fabrikam.pk, "include_delegated_admin": "on"},
    )
    request = RelationshipRequest.objects.get(partner=fabrikam, customer=adatum, state="pending")
    customer.post(reverse("relationships:invitation_accept", args=[request.pk]))
    submit(premium, fabrikam)
    watch.check("a new relationship, then Submit")

    e3 = adatum.subscriptions.get(offer_name="Microsoft 365 E3")
    submit(e3, fabrikam)
    partnership = fabrikam.provider_partnerships.get(provider=contoso, state="active")
    staff.post(reverse("customers:partnership_remove", args=[partnership.pk]))
    e3.refresh_from_db()
    premium.refresh_from_db()
    assert e3.support_contact == premium.support_contact == contoso
    watch.check("a partnership removed (fall-backs)")

    reseller_staff = Client()
    reseller_staff.force_login(reseller)
    fabrikams = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum, state="active")
    reseller_staff.post(
        reverse("customers:relationship_give_up_dap", args=[adatum.pk, fabrikams.pk])
    )
    fabrikams.refresh_from_db()
    assert not fabrikams.delegated_admin
    watch.check("the reseller giving up DAP")

    # The back office: a customer, Contoso's relationship with it, a suspended subscription.
    admin = _admin()
    _saved(
        admin.post(
            _admin_url(Customer, "add"),
            _admin_form(Customer(name="Dashboard Test Ltd", domain="dashboard-test.example")),
        )
    )
    newcomer = Customer.objects.get(domain="dashboard-test.example")
    _saved(
        admin.post(
            _admin_url(CustomerRelationship, "add"),
            _admin_form(CustomerRelationship(partner=contoso, customer=newcomer, state="active")),
        )
    )
    watch.check("the back office adding a customer and a relationship")
    offer = Subscription(
        customer=newcomer,
        provider=contoso,
        support_contact=contoso,
        offer_name="Exchange Online (Plan 1)",
        status=Subscription.Status.SUSPENDED,
        billing_cycle=Subscription.BillingCycle.MONTHLY,
        term=Subscription.Term.ONE_MONTH,
        commerce_type=Subscription.CommerceType.LEGACY,
        created_at=timezone.make_aware(datetime(2024, 5, 1, 9, 30)),
    )
    _saved(admin.post(_admin_url(Subscription, "add"), _admin_form(offer)))
    added = newcomer.subscriptions.get()
    watch.check("the back office adding a subscription")

    own = CustomerRelationship.objects.get(partner=contoso, customer=newcomer)
    staff.post(reverse("customers:relationship_remove", args=[newcomer.pk, own.pk]))
    own.refresh_from_db()
    assert own.state == RelationshipState.REMOVED
    watch.check("the provider ending its own relationship")

    _saved(
        admin.post(
            _admin_url(CustomerRelationship, "change", own.pk), _admin_form(own, state="active")
        )
    )
    watch.check("the back office making a relationship active again")

    _saved(
        admin.post(
            _admin_url(Subscription, "change", added.pk), _admin_form(added, customer=adatum)
        )
    )
    watch.check("the back office moving a subscription to another customer")

    _saved(admin.post(_admin_url(Subscription, "delete", added.pk), {"post": "yes"}))
    _saved(admin.post(_admin_url(CustomerRelationship, "delete", own.pk), {"post": "yes"}))
    _saved(admin.post(_admin_url(Customer, "delete", newcomer.pk), {"post": "yes"}))
    assert not Customer.objects.filter(pk=newcomer.pk).exists()
    watch.check("the back office deleting a subscription, a relationship, a customer")

    _saved(
        admin.post(
            _admin_url(Partner, "change", contoso.pk),
            _admin_form(contoso, name="Contoso Distribution EMEA"),
        )
    )
    watch.check("a partner's new name")
    assert _shown(watch.browsers[agent])["top"][0][:2] == (contoso.pk, "Contoso Distribution EMEA")


@pytest.mark.django_db
def test_the_dashboard_shows_the_top_contacts_and_counts_the_others(client, demo_world):
    provider = Partner.objects.get(name="Contoso Distribution")
    customer = Customer.objects.get(domain="adatum.example")
    resellers = factories.ResellerFactory.create_batch(tallies.TOP_CONTACTS + 2)
    for count, reseller in enumerate(resellers, start=1):
        for subscription in factories.SubscriptionFactory.create_batch(
            count, customer=customer, provider=provider
        ):
            # The back office's kind of write: no eligibility check, straight to the row.
            Subscription.objects.filter(pk=subscription.pk).update(support_contact=reseller)
    client.force_login(User.objects.get(username="salesagent"))

    response = client.get(DASHBOARD)

    html = response.content.decode()
    shown = [row.name for row in response.context["figures"].top]
    assert shown[0] == "Contoso Distribution"
    assert shown[1:4] == [r.name for r in resellers[::-1][:3]]
    assert len(shown) == tallies.TOP_CONTACTS
    assert resellers[0].name not in html
    assert "other partners" in html
    assert f'href="{CONTACTS}"' in html
    everyone = client.get(CONTACTS).content.decode()
    assert resellers[0].name in everyone
    assert resellers[-1].name in everyone


@pytest.mark.django_db
def test_subscriptions_without_a_designated_contact_are_counted_as_not_set(client):
    subscription = factories.SubscriptionFactory()
    factories.CustomerRelationshipFactory(
        partner=subscription.provider, customer=subscription.customer
    )
    Subscription.objects.filter(pk=subscription.pk).update(support_contact=None)
    client.force_login(
        factories.StaffUserFactory(partner=subscription.provider, roles=["sales_agent"])
    )

    figures = client.get(DASHBOARD).context["figures"]

    assert (figures.subscriptions, figures.contacts) == (1, 1)
    assert [(row.contact_id, row.subscriptions) for row in figures.top] == [(None, 1)]
    assert "Not set" in client.get(CONTACTS).content.decode()
    assert SubscriptionTally.objects.filter(contact=None, subscriptions=1).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["0", "-1", "2", "99999999999999999999", "abc", "1.5", "\x00"])
def test_any_page_number_of_the_list_of_contacts_answers_a_page(client, demo_world, page):
    client.force_login(User.objects.get(username="adminagent"))
    response = client.get(CONTACTS, {"page": page})
    assert response.status_code == 200
    assert "Contoso Distribution" in response.content.decode()


@pytest.mark.django_db
def test_a_partner_with_nothing_yet_sees_zeros(client):
    client.force_login(factories.StaffUserFactory(roles=["admin_agent"]))
    response = client.get(DASHBOARD)
    figures = response.context["figures"]
    assert (figures.customers, figures.subscriptions, figures.contacts, figures.top) == (
        0,
        0,
        0,
        [],
    )
    assert "No subscriptions yet." in response.content.decode()
    assert "No subscriptions yet." in client.get(CONTACTS).content.decode()


# Concurrency (PostgreSQL) -----------------------------------------------------------------------


def _busy_world():
    """A provider, a second one and three resellers around six customers, five subscriptions
    each; nothing active at the last customer, so its providers may end their relationships."""
    provider, other_provider = factories.ProviderFactory(), factories.ProviderFactory()
    resellers = factories.ResellerFactory.create_batch(3)
    for reseller in resellers:
        factories.ResellerPartnershipFactory(provider=provider, reseller=reseller)
    customers = factories.CustomerFactory.create_batch(6)
    for customer in customers:
        for partner in (provider, other_provider, *resellers[:2]):
            factories.CustomerRelationshipFactory(
                partner=partner, customer=customer, delegated_admin=True
            )
        factories.SubscriptionFactory.create_batch(5, customer=customer, provider=provider)
        factories.SubscriptionFactory(customer=customer, provider=other_provider)
    Subscription.objects.filter(customer=customers[-1]).update(status=Subscription.Status.SUSPENDED)
    return provider, other_provider, resellers, customers


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_and_relationship_changes_keep_the_counts_exact():
    provider, other_provider, resellers, customers = _busy_world()
    staff = factories.StaffUserFactory(partner=provider, roles=[Role.ADMIN_AGENT])
    other_staff = factories.StaffUserFactory(partner=other_provider, roles=[Role.ADMIN_AGENT])
    reseller_staff = [
        factories.StaffUserFactory(partner=r, roles=[Role.ADMIN_AGENT]) for r in resellers
    ]
    admins = [factories.CustomerAdminFactory(customer=c) for c in customers]
    request = relationship_services.relationship_request_create(
        customer=customers[2], partner=resellers[2], include_delegated_admin=True, by=staff
    )

    def submit(subscription, contact):
        return lambda: support_contact_assign(
            subscription=subscription,
            contact=contact,
            by=staff,
            expected_version=subscription.version,
        )

    def relationship(partner, customer):
        return CustomerRelationship.objects.get(partner=partner, customer=customer, state="active")

    submits = [  # every subscription of the provider, to a reseller
        submit(subscription, resellers[i % 2])
        for i, subscription in enumerate(Subscription.objects.filter(provider=provider))
    ]
    changes = [
        # a reseller ends its relationship, a customer withdraws DAP, a partnership ends
        lambda: workflows.customer_relationship_remove(
            relationship=relationship(resellers[0], customers[0]), by=reseller_staff[0]
        ),
        lambda: workflows.delegated_admin_remove(
            relationship=relationship(resellers[1], customers[1]), by=admins[1]
        ),
        lambda: workflows.reseller_partnership_remove(
            partnership=resellers[1].provider_partnerships.get(provider=provider), by=staff
        ),
        # a new relationship; both providers ending theirs while its subscriptions change
        lambda: relationship_services.relationship_request_accept(request=request, by=admins[2]),
        lambda: workflows.customer_relationship_remove(
            relationship=relationship(provider, customers[-1]), by=admins[-1]
        ),
        lambda: workflows.customer_relationship_remove(
            relationship=relationship(other_provider, customers[-1]), by=other_staff
        ),
    ]

    outcomes = at_once(*submits, *changes)

    unexpected = [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, DomainError)
    ]
    assert unexpected == []
    assert any(isinstance(o, SupportContactChange) for o in outcomes)
    for user in (staff, other_staff, *reseller_staff):
        truth = _counted_from_scratch(user)
        figures = tallies.figures(user, top=1000)
        assert figures.customers == truth["customers"], user
        assert figures.subscriptions == truth["subscriptions"], user
        assert [(r.contact_id, r.name, r.subscriptions) for r in figures.top] == truth["contacts"]


# What the page shows: links, recent changes, open requests, bars -------------------------------


class _Links(HTMLParser):
    """Each link of a page: its href and its text as a screen reader reads it (spaces joined)."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open.append([dict(attrs).get("href", ""), []])

    def handle_data(self, data):
        for link in self._open:
            link[1].append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.links.append((href, " ".join("".join(text).split())))


def _links(response) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(response.content.decode())
    return parser.links


def _section(response, heading_id: str) -> str:
    """The HTML of the card whose heading has `heading_id` ("" when the page has none)."""
    html = response.content.decode()
    start = html.find(f'aria-labelledby="{heading_id}"')
    return "" if start < 0 else html[start : html.index("</section>", start)]


CUSTOMERS = reverse("customers:customer_list")
HISTORY = reverse("customers:history")


@pytest.mark.django_db
def test_every_figure_and_bar_links_to_the_list_behind_it(
    client, demo_user, partner_named, adatum, premium
):
    contoso, fabrikam = partner_named("Contoso Distribution"), partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium,
        contact=fabrikam,
        by=demo_user("adminagent"),
        expected_version=premium.version,
    )
    unset = factories.SubscriptionFactory(customer=adatum, provider=contoso)
    Subscription.objects.filter(pk=unset.pk).update(support_contact=None)
    agent = User.objects.get(username="salesagent")
    client.force_login(agent)
    truth = _counted_from_scratch(agent)

    response = client.get(DASHBOARD)

    links = _links(response)
    customers = f"{truth['customers']:,}"
    subscriptions = f"{truth['subscriptions']:,}"
    assert (CUSTOMERS, f"{customers} Customers") in links
    assert (f"{CUSTOMERS}?sort=-subscriptions", f"{subscriptions} Subscriptions") in links
    contacts = len(truth["contacts"])
    assert (CONTACTS, f"{contacts} Designated support contacts") in links
    bars = {href: text for href, text in links if _is_contact_link(href)}
    assert bars == {
        _contact_link(pk): f"{name or 'Not set'} {count} subscription{'s' if count > 1 else ''}"
        for pk, name, count in truth["contacts"]
    }
    assert bars[_contact_link(contoso.pk)].startswith("Contoso Distribution ")
    assert bars[_contact_link(fabrikam.pk)] == "Fabrikam Solutions 1 subscription"
    assert bars[_contact_link(None)] == "Not set 1 subscription"

    listed = {href: text for href, text in _links(client.get(CONTACTS)) if _is_contact_link(href)}
    assert listed == {href: text.rsplit(" ", 2)[0] for href, text in bars.items()}

    # each link leads to the customers behind the figure
    for pk, _name, _count in truth["contacts"]:
        shown = [row.customer.pk for row in client.get(_contact_link(pk)).context["rows"]]
        behind = Customer.objects.filter(
            pk__in=Subscription.objects.restrict(agent, Action.VIEW)
            .filter(support_contact=pk)
            .values("customer_id")
        )
        assert shown == list(behind.order_by("name", "pk").values_list("pk", flat=True)[:25])


def _contact_link(pk) -> str:
    return f"{CUSTOMERS}?contact={pk}" if pk else f"{CUSTOMERS}?no_contact=on"


def _is_contact_link(href: str) -> bool:
    return href.startswith((f"{CUSTOMERS}?contact=", f"{CUSTOMERS}?no_contact="))


@pytest.mark.django_db
def test_a_resellers_staff_get_their_own_figures_as_links_and_no_contacts_figure(
    client, demo_world
):
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    client.force_login(User.objects.get(username="fabrikam"))

    links = dict(_links(client.get(DASHBOARD)))

    assert links[CUSTOMERS].endswith(" Customers")
    # the subscriptions it supports: its Supported subscriptions page
    assert links[reverse("customers:supported_subscriptions")].endswith(" Subscriptions")
    assert f"{CUSTOMERS}?sort=-subscriptions" not in links
    assert CONTACTS not in links
    assert [href for href in links if "?contact=" in href] == [f"{CUSTOMERS}?contact={fabrikam.pk}"]
    assert links[HISTORY] == "See the whole history"


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["globaladmin", "adminagent", "helpdeskagent", "salesagent"])
def test_every_role_that_opens_the_dashboard_gets_both_cards(client, demo_world, username):
    client.force_login(User.objects.get(username=username))
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert _section(response, "recent-changes")
    assert _section(response, "open-requests")
    assert (HISTORY, "See the whole history") in _links(response)


@pytest.mark.django_db
def test_a_role_that_may_not_view_the_history_gets_no_recent_changes(
    client, demo_world, monkeypatch
):
    # The same rule as the History page: the capability it requires, read from the role table.
    monkeypatch.setitem(
        CAPABILITY_TABLE,
        Capability.VIEW_HISTORY,
        CAPABILITY_TABLE[Capability.VIEW_HISTORY] - {Role.SALES_AGENT},
    )
    client.force_login(User.objects.get(username="salesagent"))
    assert client.get(HISTORY).status_code == 403

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert not _section(response, "recent-changes")
    assert HISTORY not in dict(_links(response))
    assert _section(response, "open-requests")


def _provider_world(*, changes: int = 0):
    """A provider with staff, a customer it works with and a subscription there, and
    `changes` changes of its contact, a minute apart, the newest last."""
    provider = factories.ProviderFactory()
    customer = factories.CustomerFactory()
    factories.CustomerRelationshipFactory(partner=provider, customer=customer)
    subscription = factories.SubscriptionFactory(customer=customer, provider=provider)
    start = timezone.now() - timedelta(days=1)
    made = [
        factories.SupportContactChangeFactory(
            subscription=subscription, changed_at=start + timedelta(minutes=i)
        )
        for i in range(changes)
    ]
    staff = factories.StaffUserFactory(partner=provider, roles=[Role.HELPDESK_AGENT])
    return provider, customer, subscription, made, staff


@pytest.mark.django_db
def test_recent_changes_are_the_five_newest_the_user_may_view(client):
    _provider, _customer, subscription, made, staff = _provider_world(changes=7)
    # Another provider's changes, newer than all of these, never appear.
    _other, _c, _s, others, _staff = _provider_world(changes=3)
    # A reseller's staff see only the changes that name their organisation.
    named = made[2].to_contact
    reseller_staff = factories.StaffUserFactory(partner=named, roles=[Role.ADMIN_AGENT])
    client.force_login(staff)

    response = client.get(DASHBOARD)

    shown = [row["datetime"] for row in response.context["changes"]]
    assert shown == [c.changed_at.isoformat() for c in made[::-1][:RECENT_CHANGES]]
    card = _section(response, "recent-changes")
    assert made[-1].to_contact.name in card
    assert subscription.offer_name in card
    assert all(c.to_contact.name not in card for c in others)
    assert subscription.customer.name in card
    # The same rows as the History page's first ones, in the user's time zone.
    history = client.get(HISTORY).context["rows"]
    assert response.context["changes"] == history[:RECENT_CHANGES]

    client.force_login(reseller_staff)
    reseller_card = _section(client.get(DASHBOARD), "recent-changes")
    assert named.name in reseller_card
    assert all(c.to_contact.name not in reseller_card for c in made if c is not made[2])


@pytest.mark.django_db
def test_recent_changes_and_requests_say_so_when_there_are_none(client):
    client.force_login(factories.StaffUserFactory(roles=[Role.ADMIN_AGENT]))

    response = client.get(DASHBOARD)

    assert "No changes yet." in _section(response, "recent-changes")
    assert "No relationship request is waiting for an answer." in _section(
        response, "open-requests"
    )


@pytest.mark.django_db
def test_open_requests_come_soonest_expiry_first_and_say_when_they_expire_soon(client):
    provider, _customer, _subscription, _made, staff = _provider_world()
    now = timezone.now()

    def request(days: float, **fields):
        customer = factories.CustomerFactory()
        factories.CustomerRelationshipFactory(partner=provider, customer=customer)
        return factories.RelationshipRequestFactory(
            partner=fields.pop("partner", provider),
            requested_through=provider,
            customer=customer,
            created_at=now - timedelta(days=20),
            expires_at=now + timedelta(days=days),
            **fields,
        )

    later, soonest, in_six_days, in_eight_days, in_ten, in_twenty = (
        request(29),
        request(0.5),
        request(6),
        request(8, partner=factories.ResellerFactory()),
        request(10),
        request(20),
    )
    request(-1)  # expired: still pending, no longer open
    request(3, state=RelationshipRequest.State.ACCEPTED)
    stranger = factories.RelationshipRequestFactory(expires_at=now + timedelta(days=1))
    client.force_login(staff)

    response = client.get(DASHBOARD)

    shown = response.context["open_requests"]
    assert [r.pk for r in shown] == [
        r.pk for r in (soonest, in_six_days, in_eight_days, in_ten, in_twenty)
    ]
    assert later not in shown
    assert [r.expires_soon for r in shown] == [True, True, False, False, False]
    card = _section(response, "open-requests")
    assert card.count("Expires soon") == 2
    assert stranger.customer.name not in card
    assert in_eight_days.partner.name in card
    tab = reverse("customers:customer_relationships", args=[soonest.customer_id])
    assert (tab, soonest.customer.name) in _links(response)


@pytest.mark.django_db
def test_a_request_for_a_customer_the_user_cannot_open_is_listed_without_a_link(client):
    reseller = factories.ResellerFactory()
    provider = factories.ProviderFactory()
    customer = factories.CustomerFactory()
    factories.CustomerRelationshipFactory(partner=provider, customer=customer)
    invitation = factories.RelationshipRequestFactory(
        partner=reseller, requested_through=provider, customer=customer
    )
    client.force_login(factories.StaffUserFactory(partner=reseller, roles=[Role.SALES_AGENT]))

    response = client.get(DASHBOARD)

    assert customer.name in _section(response, "open-requests")
    tab = reverse("customers:customer_relationships", args=[customer.pk])
    assert tab not in dict(_links(response))
    assert client.get(tab).status_code == 404
    assert [r.pk for r in response.context["open_requests"]] == [invitation.pk]


def _one_among(count: int):
    """A provider's staff, the provider the contact of `count` subscriptions, and a reseller
    the contact of one."""
    provider, customer, subscription, _made, staff = _provider_world()
    reseller = factories.ResellerFactory()
    Subscription.objects.filter(pk=subscription.pk).update(support_contact=reseller)
    Subscription.objects.bulk_create(
        Subscription(
            customer=customer,
            provider=provider,
            support_contact=provider,
            offer_name="Office 365 E1",
            billing_cycle=Subscription.BillingCycle.MONTHLY,
            term=Subscription.Term.ONE_YEAR,
            commerce_type=Subscription.CommerceType.LEGACY,
        )
        for _ in range(count)
    )
    return staff, reseller


STYLESHEET = Path(__file__).resolve().parent.parent / "static/css/app.css"


@pytest.mark.django_db
def test_a_bar_of_one_among_30000_keeps_its_minimum_width(client):
    staff, reseller = _one_among(30_000)
    client.force_login(staff)

    html = client.get(DASHBOARD).content.decode()

    rows = re.findall(
        r'<a class="bar-row" href="([^"]+)">.*?<span class="(bar [^"]+)">', html, re.S
    )
    assert rows == [
        (f"{CUSTOMERS}?contact={staff.partner_id}", "bar bar-t10 bar-o0"),
        (f"{CUSTOMERS}?contact={reseller.pk}", "bar bar-t0 bar-o0"),
    ]
    assert re.search(r"\.bar \{[^}]*min-width: 4px", STYLESHEET.read_text(encoding="utf-8"))
    assert "1 subscription<" in html
    assert "30,000 subscriptions<" in html
