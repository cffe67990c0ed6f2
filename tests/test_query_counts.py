"""No page's query count grows with customers, subscriptions, resellers or history rows."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import factory
import pytest
from django.db import connection
from django.db.models import F, Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import bulk
from customers.models import Customer, Subscription, SupportContactChange
from customers.services import support_contact_assign
from customers.supported_views import VISITED_PAGE
from demo.world import add_customers
from notifications.models import Delivery, WebhookEndpoint
from partnercenter.api_tokens import api_token_issue
from partnercenter.keyset import KeysetPaginator
from partnercenter.models import PageVisit, Partner, User
from tests import factories

pytestmark = pytest.mark.django_db

MAX_QUERIES = 12  # sessions, user, roles, the page's own few queries


def _grow(extra_customers: int, extra_resellers: int, extra_subscriptions: int, history: int):
    contoso = Partner.objects.get(name="Contoso Distribution")
    adatum = Customer.objects.get(domain="adatum.example")
    premium = adatum.subscriptions.get(offer_name="Office 365 Business Premium")
    add_customers(
        names=[f"Load Test {i}" for i in range(extra_customers)],
        provider=contoso,
        resellers=list(Partner.objects.resellers()),
        seed=1,
    )
    for _ in range(extra_resellers // 10):
        factories.StaffUserFactory(partner=contoso, roles=["sales_agent", "helpdesk_agent"])
    for i in range(extra_resellers):
        reseller = factories.ResellerPartnershipFactory(provider=contoso).reseller
        factories.CustomerRelationshipFactory(
            partner=reseller, customer=adatum, delegated_admin=i % 2 == 0
        )
    factories.SubscriptionFactory.create_batch(
        extra_subscriptions, customer=adatum, provider=contoso
    )
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    agent = User.objects.get(username="adminagent")
    change = premium.support_contact_changes.order_by("pk").first() or support_contact_assign(
        subscription=premium, contact=fabrikam, by=agent, expected_version=premium.version
    )
    SupportContactChange.objects.bulk_create(
        SupportContactChange(
            subscription=premium,
            from_contact=contoso,
            to_contact=fabrikam,
            changed_by=agent,
            through="form",
        )
        for _ in range(history)
    )
    # API tokens: more than a page of one's own, and of the partner's others, in the large world.
    for username in ("adminagent", "globaladmin", "helpdeskagent"):
        owner = User.objects.get(username=username)
        for i in range(extra_resellers * 2):
            api_token_issue(user=owner, name=f"Load {i}", expires_in=timedelta(days=1 + i % 90))
    # Webhooks: Contoso's endpoint, with a delivery per history row, and more endpoints.
    endpoint = WebhookEndpoint.objects.filter(url=LOAD_ENDPOINT).first()
    endpoint = endpoint or factories.WebhookEndpointFactory(partner=contoso, url=LOAD_ENDPOINT)
    event = factories.EventFactory()
    factories.DeliveryFactory.create_batch(history, endpoint=endpoint, event=event)
    factories.WebhookEndpointFactory.create_batch(extra_resellers // 10, partner=contoso)
    return adatum, Subscription.objects.get(pk=premium.pk), change


LOAD_ENDPOINT = "https://93.184.215.14/load"


def _after(model, name="") -> str:
    """A Next link's query, the same in every world: the page after a row made up for it."""
    contoso = Partner.objects.get(name="Contoso Distribution")
    if model is Customer:
        row, ordering = Customer(pk=10**9, name=name), ("-name", "-pk")
    else:
        row, ordering = (
            model(pk=10**9, changed_at=datetime(2100, 1, 1, tzinfo=UTC)),
            ("-changed_at", "-pk"),
        )
    token = KeysetPaginator(model.objects.all(), ordering, 1, world=contoso.pk).token_for(row, 1)
    return urlencode({"after": token})


def _deliveries_after(endpoint) -> str:
    """The endpoint's deliveries after one made up for the link, the same in every world."""
    paginator = KeysetPaginator(Delivery.objects.all(), ("-pk",), 1, world=endpoint.pk)
    return urlencode({"after": paginator.token_for(Delivery(pk=10**9), 1)})


def _pages(adatum, premium, change):
    staff = [
        reverse("dashboard:dashboard"),
        reverse("dashboard:support_contacts") + "?page=2",
        reverse("customers:customer_list"),
        reverse("customers:customer_list")
        + "?q=load&sort=-name&"
        + _after(Customer, "Load Test 3"),
        reverse("customers:customer_list") + "?last=1",
        reverse("customers:customer_list")
        + "?sort=-subscriptions&commerce=legacy&contact=Contoso+Distribution"
        + "&reseller=Fabrikam&partner=Fabrikam",
        reverse("customers:customer_list") + "?sort=contacts&contact=Nobody+at+all",
        reverse("customers:customer_detail", args=[adatum.pk]),
        reverse("customers:customer_relationships", args=[adatum.pk]),
        reverse("customers:subscription_detail", args=[adatum.pk, premium.pk]),
        reverse("customers:subscription_detail", args=[adatum.pk, premium.pk]) + "?why=o",
        reverse("customers:support_contact_change", args=[adatum.pk, premium.pk, change.pk]),
        reverse("partnercenter:my_access"),
        reverse("customers:history"),
        reverse("customers:history")
        + "?customer=adatum&through=form&"
        + _after(SupportContactChange),
        reverse("partnercenter:support_profile"),
        reverse("api_pages:reference"),
        reverse("partnercenter:api_tokens"),
    ]
    helpdesk = User.objects.get(username="helpdeskagent")
    endpoint = WebhookEndpoint.objects.get(url=LOAD_ENDPOINT)
    endpoint_url = reverse("notifications:webhook_detail", args=[endpoint.pk])
    admin = [
        reverse("partnercenter:user_list"),
        reverse("partnercenter:user_detail", args=[helpdesk.pk]),
        reverse("partnercenter:user_add"),
        reverse("partnercenter:two_step"),
        reverse("partnercenter:api_tokens"),
        reverse("partnercenter:support_profile"),
        reverse("notifications:webhook_list"),
        endpoint_url,
        endpoint_url + "?" + _deliveries_after(endpoint),
    ]
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    fabrikams = fabrikam.customer_relationships.get(customer=adatum)
    partnership = fabrikam.provider_partnerships.get(provider__name="Contoso Distribution")
    own = adatum.relationships.get(partner__name="Contoso Distribution")
    agent = User.objects.get(username="adminagent")
    everything = Q(customer=adatum)  # grows with the world's subscriptions
    previewed = bulk.bulk_preview_create(
        by=agent, subscriptions=everything, contact=fabrikam, criteria={}
    )
    done = bulk.bulk_preview_create(
        by=agent, subscriptions=everything, contact=fabrikam, criteria={}
    )
    bulk.bulk_operation_submit(operation_id=done.pk, by=agent)
    return {
        "adminagent": [
            *staff,
            reverse("customers:partnerships"),
            reverse("customers:partnership_remove", args=[partnership.pk]),
            reverse("customers:relationship_remove", args=[adatum.pk, own.pk]),
            reverse("customers:relationship_give_up_dap", args=[adatum.pk, own.pk]),
            reverse("customers:relationship_request_new", args=[adatum.pk]),
            reverse("customers:partnership_detail", args=[partnership.pk]),
            reverse("customers:bulk_operation", args=[previewed.pk]),
            reverse("customers:bulk_operation", args=[done.pk]),
        ],
        "globaladmin": admin,
        "fabrikam": [
            reverse("dashboard:dashboard"),
            reverse("dashboard:support_contacts"),
            reverse("customers:customer_detail", args=[adatum.pk]),
            reverse("customers:customer_relationships", args=[adatum.pk]),
            reverse("customers:subscription_detail", args=[adatum.pk, premium.pk]),
            reverse("customers:relationship_give_up_dap", args=[adatum.pk, fabrikams.pk]),
            reverse("customers:partnerships"),
            reverse("customers:history"),
            reverse("customers:supported_subscriptions") + "?q=adatum&new=on",
        ],
        "adatumadmin": [
            reverse("customers:customer_support"),
            reverse("partnercenter:my_access"),
            reverse("relationships:customer_partner_relationships"),
            reverse("customers:delegated_admin_remove", args=[fabrikams.pk]),
            reverse("customers:customer_relationship_end", args=[fabrikams.pk]),
        ],
    }


def _query_counts(client, world) -> dict[tuple, int]:
    counts = {}
    for username, urls in _pages(*world).items():
        client.force_login(User.objects.get(username=username))
        for i, url in enumerate(urls):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200, url
            # A bulk change's id differs from world to world: its place in the list does not.
            counts[username, i, re.sub(r"/bulk/\d+/", "/bulk/N/", url)] = len(queries)
    return counts


@pytest.mark.parametrize(
    ("size", "growth"),
    [("small", (5, 1, 1, 1)), ("large", (500, 40, 80, 150))],
)
def test_every_page_stays_under_the_query_budget(
    client, demo_world, django_assert_max_num_queries, size, growth
):
    world = _grow(*growth)
    for username, urls in _pages(*world).items():
        client.force_login(User.objects.get(username=username))
        for url in urls:
            with django_assert_max_num_queries(MAX_QUERIES):
                assert client.get(url).status_code == 200, url


def test_query_counts_are_the_same_in_a_small_and_a_large_world(client, demo_world):
    small = _query_counts(client, _grow(5, 1, 1, 1))
    large = _query_counts(client, _grow(500, 40, 80, 150))
    assert small == large


# The dashboard: the session, the user, their roles, their partner; the figures (two statements,
# customers/tallies.py); the recent changes (one); the open relationship requests (one).
DASHBOARD_QUERIES = 8


@pytest.mark.parametrize(("growth", "requests"), [((5, 1, 1, 1), 1), ((500, 40, 80, 150), 40)])
def test_the_dashboard_asks_the_same_few_queries_in_any_world(client, demo_world, growth, requests):
    _grow(*growth)
    contoso = Partner.objects.get(name="Contoso Distribution")
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    for customer in Customer.objects.filter(name__startswith="Load Test")[:requests]:
        factories.RelationshipRequestFactory(
            partner=fabrikam, requested_through=contoso, customer=customer
        )
    for username in ("adminagent", "fabrikam"):
        client.force_login(User.objects.get(username=username))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("dashboard:dashboard"))
        assert response.status_code == 200
        assert response.context["changes"], username
        assert response.context["open_requests"], username
        assert len(queries) == DASHBOARD_QUERIES, (username, [q["sql"] for q in queries])


# The customer's Support page draws a card per partner supporting the customer: the session, the
# user, the customer, and the subscriptions with their provider and contact (one statement).
SUPPORT_PAGE_QUERIES = 4


def test_the_support_page_asks_the_same_queries_however_many_partners_support_the_customer(
    client, demo_world
):
    """`_grow` adds subscriptions under one contact; here each new one has a partner of its own."""
    adatum = Customer.objects.get(domain="adatum.example")
    contoso = Partner.objects.get(name="Contoso Distribution")
    client.force_login(User.objects.get(username="adatumadmin"))

    def support_page() -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("customers:customer_support"))
        assert response.status_code == 200
        return response.content.decode().count("<section"), [q["sql"] for q in queries]

    small_cards, small = support_page()
    factories.SubscriptionFactory.create_batch(
        40,
        customer=adatum,
        provider=contoso,
        support_contact=factory.SubFactory(factories.ResellerFactory),
    )
    large_cards, large = support_page()
    assert large_cards == small_cards + 40
    assert len(small) == len(large) == SUPPORT_PAGE_QUERIES, large


# The Supported subscriptions page: the session, the user, their roles, their partner; the visit
# (two statements: first or not); the providers offered; the page of rows. Its export: the
# same but the visit read (one) and the rows streamed (one; on PostgreSQL three more: the COPY
# is logged twice, by Django's debug cursor and by customers/history_export.py's `_copied`, and
# the statement timeout is lifted for it and restored after it).
SUPPORTED_PAGE_QUERIES = 8
SUPPORTED_EXPORT_QUERIES = 7 + 3 * (connection.vendor == "postgresql")


def test_the_supported_subscriptions_page_and_export_ask_the_same_queries_in_any_world(
    client, demo_world
):
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    contoso = Partner.objects.get(name="Contoso Distribution")
    page, export = (
        reverse("customers:supported_subscriptions"),
        reverse("customers:supported_subscriptions_export"),
    )
    row = Subscription(pk=10**9)
    row.since = datetime(2100, 1, 1, tzinfo=UTC)
    supported = Subscription.objects.annotate(since=F("created_at"))
    token = KeysetPaginator(supported, ("-since", "-pk"), 1, world=fabrikam.pk).token_for(row, 1)
    filters = f"?q=load&provider={contoso.pk}&new=on"
    urls = [page, page + filters, f"{page}?{urlencode({'after': token})}", export, export + filters]
    user = User.objects.get(username="fabrikam")
    client.force_login(user)
    # A visit a day ago, so that "new only" reads rows (before any visit, it is no rows at all).
    yesterday = timezone.now() - timedelta(days=1)
    PageVisit.objects.create(user=user, page=VISITED_PAGE, current_at=yesterday)

    def counts() -> dict[str, int]:
        counted = {}
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
                if response.streaming:  # the rows are read as the body is
                    b"".join(response.streaming_content)
            assert response.status_code == 200, url
            counted[url] = len(queries)
        return counted

    small = counts()
    _grow(500, 40, 80, 150)
    # Fabrikam supports every load-test subscription (more than a page), and works with more
    # providers.
    load_tests = Subscription.objects.filter(customer__name__startswith="Load Test")
    assert load_tests.update(support_contact=fabrikam) > 100
    for _ in range(10):
        factories.ResellerPartnershipFactory(reseller=fabrikam)
    large = counts()

    assert small == large
    assert {n for url, n in large.items() if url.startswith(export)} == {SUPPORTED_EXPORT_QUERIES}
    assert {n for url, n in large.items() if not url.startswith(export)} == {
        SUPPORTED_PAGE_QUERIES
    }, large


# The health checks, as a load balancer asks them (signed out, no cookie): /healthz asks the
# database nothing, /readyz one statement (the applied migrations; partnercenter/health.py).
HEALTH_QUERIES = {"partnercenter:healthz": 0, "partnercenter:readyz": 1}


def test_the_health_checks_ask_nothing_or_one_statement_in_any_world(client, demo_world):
    def counts() -> dict[str, int]:
        counted = {}
        for name in HEALTH_QUERIES:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse(name)).status_code == 200, name
            counted[name] = len(queries)
        return counted

    small = counts()
    _grow(500, 40, 80, 150)
    assert small == counts() == HEALTH_QUERIES
