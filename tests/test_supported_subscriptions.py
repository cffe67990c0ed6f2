"""A reseller's Supported subscriptions page and its CSV export: exactly the subscriptions its
organisation is the designated support contact of, across providers and customers; search and
filters, a bad value reported and left out; "New" since the last visit; the CSV, formula-safe
and streamed."""

import csv
import io
from datetime import UTC, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from customers.models import Subscription, SupportContactChange
from customers.services import support_contact_assign
from customers.supported_views import VISITED_PAGE
from partnercenter.models import PageVisit, User
from partnercenter.services import page_visit_mark
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = reverse("customers:supported_subscriptions")
EXPORT = reverse("customers:supported_subscriptions_export")
HEADER = [
    "Customer",
    "Customer domain",
    "Subscription id",
    "Offer",
    "Quantity",
    "Provider",
    "Since (UTC)",
]


@pytest.fixture
def world(demo_user, partner_named, adatum, premium):
    """The demo world, where Fabrikam supports Adatum's Dynamics 365 (through Proseware); here
    also Adatum's Office 365 Business Premium (through Contoso), as Contoso's staff assign it;
    and Northwind, another reseller, supports a subscription of its own."""
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium,
        contact=fabrikam,
        by=demo_user("adminagent"),
        expected_version=premium.version,
    )
    northwind = partner_named("Northwind Traders IT")
    factories.SubscriptionFactory(
        customer=adatum,
        provider=partner_named("Contoso Distribution"),
        offer_name="Northwind's own subscription",
        support_contact=northwind,
    )
    return fabrikam


@pytest.fixture
def fabrikam_client(client, demo_user):
    client.force_login(demo_user("fabrikam"))
    return client


def _listed(response) -> list[int]:
    return [row.subscription.pk for row in response.context["rows"]]


def _supported_by(partner) -> set[int]:
    return set(Subscription.objects.filter(support_contact=partner).values_list("pk", flat=True))


def test_the_page_lists_exactly_the_subscriptions_the_partner_supports_across_providers(
    fabrikam_client, world, partner_named
):
    response = fabrikam_client.get(PAGE)

    assert response.status_code == 200
    listed = _listed(response)
    assert set(listed) == _supported_by(world)
    assert len(listed) == len(set(listed))
    shown = Subscription.objects.filter(pk__in=listed)
    assert {s.provider.name for s in shown} == {"Contoso Distribution", "Proseware Distribution"}
    html = response.content.decode()
    assert "Dynamics 365 Business Central Essentials" in html
    assert "Office 365 Business Premium" in html
    assert "Northwind&#x27;s own subscription" not in html
    assert "Northwind's own subscription" not in html
    assert not set(listed) & _supported_by(partner_named("Northwind Traders IT"))


def test_each_row_links_to_its_customer_and_subscription_and_says_since_when(
    fabrikam_client, world, premium
):
    html = fabrikam_client.get(PAGE).content.decode()

    customer = reverse("customers:customer_detail", args=[premium.customer_id])
    subscription = reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
    assert f'href="{customer}"' in html
    assert f'href="{subscription}"' in html
    change = SupportContactChange.objects.filter(subscription=premium, to_contact=world).first()
    assert f'datetime="{change.changed_at.isoformat()}"' in html


def test_newest_first_and_paged_by_keyset(fabrikam_client, world, adatum, partner_named):
    contoso = partner_named("Contoso Distribution")
    long_ago = timezone.now() - timedelta(days=400)
    for day in range(30):
        factories.SubscriptionFactory(
            customer=adatum,
            provider=contoso,
            support_contact=world,
            offer_name=f"Seeded {day:02}",
            created_at=long_ago + timedelta(days=day),
        )

    first = fabrikam_client.get(PAGE)
    token = first.context["page"].next_token
    second = fabrikam_client.get(PAGE, {"after": token})

    rows = [*first.context["rows"], *second.context["rows"]]
    assert len(first.context["rows"]) == 25
    assert not second.context["page"].has_next
    assert {r.subscription.pk for r in rows} == _supported_by(world)
    since = [r.subscription.since for r in rows]
    assert since == sorted(since, reverse=True)
    assert rows[-1].subscription.offer_name == "Seeded 00"
    assert "Subscriptions 1–25" in first.content.decode()
    assert 'rel="next"' in first.content.decode()


@pytest.mark.parametrize("username", ["globaladmin", "adminagent", "helpdeskagent", "proseware"])
def test_a_providers_staff_are_refused(client, world, demo_user, username):
    client.force_login(demo_user(username))
    assert client.get(PAGE).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert not PageVisit.objects.exists()


def test_customer_admins_and_user_admins_are_refused_and_the_signed_out_sent_to_sign_in(
    client, world, demo_user
):
    for url in (PAGE, EXPORT):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("partnercenter:login"))
    for username in ("adatumadmin", "usermgmtadmin"):
        client.force_login(demo_user(username))
        assert client.get(PAGE).status_code == 403
        assert client.get(EXPORT).status_code == 403


def test_a_reseller_without_the_view_capability_is_refused(client, world):
    user = factories.StaffUserFactory(partner=world, roles=["user_management_admin"])
    client.force_login(user)
    assert client.get(PAGE).status_code == 403


def test_the_search_finds_by_customer_name_domain_and_offer(fabrikam_client, world, premium):
    dynamics = Subscription.objects.get(offer_name="Dynamics 365 Business Central Essentials")

    def found(q):
        return set(_listed(fabrikam_client.get(PAGE, {"q": q})))

    assert found("dynamics") == {dynamics.pk}
    assert found("  Business Premium ") == {premium.pk}
    assert found("adatum corp") == {dynamics.pk, premium.pk}
    assert found("adatum.example") == {dynamics.pk, premium.pk}
    assert found("Northwind") == set()
    assert "No supported subscription matches these filters." in (
        fabrikam_client.get(PAGE, {"q": "nothing like it"}).content.decode()
    )


def test_the_provider_filter_offers_the_partners_providers_and_narrows_to_one(
    fabrikam_client, world, partner_named, premium
):
    contoso, proseware = (
        partner_named("Contoso Distribution"),
        partner_named("Proseware Distribution"),
    )

    response = fabrikam_client.get(PAGE, {"provider": proseware.pk})

    choices = dict(response.context["form"].fields["provider"].choices)
    assert choices == {
        "": "Any provider",
        str(contoso.pk): contoso.name,
        str(proseware.pk): proseware.name,
    }
    dynamics = Subscription.objects.get(offer_name="Dynamics 365 Business Central Essentials")
    assert _listed(response) == [dynamics.pk]
    assert _listed(fabrikam_client.get(PAGE, {"provider": contoso.pk})) == [premium.pk]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"provider": "999999999"}, "provider", "Pick a provider from the list."),
        ({"provider": "Contoso"}, "provider", "Pick a provider from the list."),
        ({"q": "x" * 101}, "q", "at most 100 characters"),
        ({"q": "adatum\x00"}, "q", "Null characters are not allowed."),
    ],
)
def test_a_bad_filter_value_is_reported_under_its_field_and_changes_nothing(
    fabrikam_client, world, params, field, message
):
    everything = _listed(fabrikam_client.get(PAGE))

    response = fabrikam_client.get(PAGE, params)

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert _listed(response) == everything


def test_a_bad_filter_value_leaves_the_others_applied(
    fabrikam_client, world, partner_named, premium
):
    contoso = partner_named("Contoso Distribution")
    response = fabrikam_client.get(PAGE, {"provider": "nope", "q": "premium"})
    assert response.context["form"].errors["provider"]
    assert _listed(response) == [premium.pk]
    response = fabrikam_client.get(PAGE, {"provider": contoso.pk, "q": "p" * 200})
    assert _listed(response) == [premium.pk]


def test_a_forged_page_token_starts_from_the_beginning_and_says_why(fabrikam_client, world):
    response = fabrikam_client.get(PAGE, {"after": "forged"})
    assert set(_listed(response)) == _supported_by(world)
    assert "This page link is not valid here" in response.content.decode()


def test_htmx_gets_the_results_alone_with_their_count_announced(fabrikam_client, world):
    response = fabrikam_client.get(
        PAGE, {"q": "dynamics"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="supported-results"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="supported-results"')
    assert "<html" not in html
    assert 'hx-swap-oob="innerHTML:#announcer">1 subscription<' in html
    assert "HX-Request" in response["Vary"]
    nothing = fabrikam_client.get(
        PAGE, {"q": "no such thing"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="supported-results"
    )
    assert (
        'hx-swap-oob="innerHTML:#announcer">No supported subscription matches these filters.<'
        in nothing.content.decode()
    )
    # a boosted navigation (or no target) gets the whole page
    whole = fabrikam_client.get(PAGE, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert "<html" in whole.content.decode()


# "New" since the last visit --------------------------------------------------------------------


def test_a_visit_is_a_view_more_than_half_an_hour_after_the_last_one(demo_user):
    user = demo_user("fabrikam")
    start = timezone.now()

    def view(minutes):
        return page_visit_mark(user=user, page="a page", now=start + timedelta(minutes=minutes))

    assert view(0) is None  # the first visit ever
    assert view(10) is None  # still the first visit: paging, filtering
    assert view(35) is None  # 25 minutes after the last view: the same visit
    assert view(70) == start + timedelta(minutes=35)  # a new visit: the last one ended at 35
    assert view(80) == start + timedelta(minutes=35)  # within it, the same marks
    assert view(200) == start + timedelta(minutes=80)
    assert view(190) == start + timedelta(minutes=80)  # a late request never turns time back
    visit = PageVisit.objects.get(user=user, page="a page")
    assert visit.current_at == start + timedelta(minutes=200)
    # each page and each user has visits of its own
    assert page_visit_mark(user=user, page="another page", now=start) is None
    assert page_visit_mark(user=demo_user("adminagent"), page="a page", now=start) is None


def _supported_since(world, adatum, provider, offer, *, created, changed=None):
    subscription = factories.SubscriptionFactory(
        customer=adatum,
        provider=provider,
        support_contact=world,
        offer_name=offer,
        created_at=created,
    )
    if changed is not None:
        factories.SupportContactChangeFactory(
            subscription=subscription, to_contact=world, changed_at=changed
        )
    return subscription


@pytest.fixture
def dated(world, adatum, partner_named):
    """Subscriptions Fabrikam has supported since known times, and a visit of its user that
    ended two hours ago."""
    contoso = partner_named("Contoso Distribution")
    now = timezone.now()
    old_row = _supported_since(
        world, adatum, contoso, "Supported for long", created=now - timedelta(days=90)
    )
    recent_change = _supported_since(
        world,
        adatum,
        contoso,
        "Recently designated",
        created=now - timedelta(days=90),
        changed=now - timedelta(hours=1),
    )
    old_change = _supported_since(
        world,
        adatum,
        contoso,
        "Designated before the visit",
        created=now - timedelta(days=90),
        changed=now - timedelta(hours=3),
    )
    return {"old": old_row, "recent": recent_change, "old change": old_change, "now": now}


def _new(response) -> set[int]:
    return {row.subscription.pk for row in response.context["rows"] if row.is_new}


def test_the_first_visit_marks_nothing_new_and_says_so(fabrikam_client, dated):
    response = fabrikam_client.get(PAGE)

    assert _new(response) == set()
    html = response.content.decode()
    assert "This is your first visit to this page" in html
    assert 'class="status status-new"' not in html
    assert _listed(fabrikam_client.get(PAGE, {"new": "on"})) == []


def test_rows_since_the_previous_visit_are_marked_new_and_stay_marked_within_the_visit(
    fabrikam_client, demo_user, dated, premium
):
    two_hours_ago = dated["now"] - timedelta(hours=2)
    PageVisit.objects.create(
        user=demo_user("fabrikam"),
        page=VISITED_PAGE,
        current_at=two_hours_ago,
        previous_at=dated["now"] - timedelta(days=2),
    )
    dynamics = Subscription.objects.get(offer_name="Dynamics 365 Business Central Essentials")
    expected = {dated["recent"].pk, premium.pk, dynamics.pk}  # premium, dynamics: changed today

    response = fabrikam_client.get(PAGE)

    assert _new(response) == expected
    html = response.content.decode()
    assert html.count('<span class="status status-new">New</span>') == len(expected)
    assert "since your last visit" in html
    # paging and filtering within the visit keep the same marks
    assert _new(fabrikam_client.get(PAGE, {"q": "designated"})) == {dated["recent"].pk}
    only_new = fabrikam_client.get(PAGE, {"new": "on"})
    assert set(_listed(only_new)) == expected
    assert _new(only_new) == expected
    visit = PageVisit.objects.get(page=VISITED_PAGE)
    assert visit.previous_at == two_hours_ago


# The CSV export --------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    data = b"".join(response.streaming_content)
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _expected(subscriptions, partner) -> list[list[str]]:
    rows = []
    for s in subscriptions:
        change = (
            SupportContactChange.objects.filter(subscription=s, to_contact=partner)
            .order_by("-changed_at", "-pk")
            .first()
        )
        since = change.changed_at if change else s.created_at
        rows.append(
            (
                since,
                s.pk,
                [
                    s.customer.name,
                    s.customer.domain,
                    str(s.uuid),
                    s.offer_name,
                    str(s.quantity),
                    s.provider.name,
                    since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                ],
            )
        )
    return [row for _since, _pk, row in sorted(rows, key=lambda r: (r[0], r[1]), reverse=True)]


def test_the_export_is_the_list_as_csv_newest_first_and_streamed(fabrikam_client, world, dated):
    response = fabrikam_client.get(EXPORT)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="supported-subscriptions-'
    )
    rows = _csv(response)
    assert rows[0] == HEADER
    supported = Subscription.objects.filter(support_contact=world).select_related(
        "customer", "provider"
    )
    assert rows[1:] == _expected(supported, world)
    assert not PageVisit.objects.exists()  # downloading is not a visit


def test_the_export_takes_the_pages_filters(
    fabrikam_client, world, demo_user, dated, partner_named
):
    proseware = partner_named("Proseware Distribution")
    rows = _csv(fabrikam_client.get(EXPORT, {"provider": proseware.pk}))
    assert [r[3] for r in rows[1:]] == ["Dynamics 365 Business Central Essentials"]
    rows = _csv(fabrikam_client.get(EXPORT, {"q": "designated"}))
    assert [r[3] for r in rows[1:]] == ["Recently designated", "Designated before the visit"]
    # a bad value is left out, as on the page
    rows = _csv(fabrikam_client.get(EXPORT, {"provider": "nope", "q": "designated"}))
    assert len(rows) == 3
    # "new only" before any visit: nothing; after one, what the page marks new
    assert _csv(fabrikam_client.get(EXPORT, {"new": "on"})) == [HEADER]
    PageVisit.objects.create(
        user=demo_user("fabrikam"),
        page=VISITED_PAGE,
        current_at=dated["now"],
        previous_at=dated["now"] - timedelta(hours=2),
    )
    rows = _csv(fabrikam_client.get(EXPORT, {"new": "on", "q": "designated"}))
    assert [r[3] for r in rows[1:]] == ["Recently designated"]


def test_the_page_links_to_the_export_with_its_filters(fabrikam_client, world, partner_named):
    proseware = partner_named("Proseware Distribution")
    html = fabrikam_client.get(PAGE, {"q": "dyn", "provider": proseware.pk}).content.decode()
    assert f'href="{EXPORT}?q=dyn&amp;provider={proseware.pk}" download' in html


def test_the_export_never_writes_a_formula(fabrikam_client, world, partner_named):
    contoso = partner_named("Contoso Distribution")
    evil = factories.CustomerFactory(
        name='=HYPERLINK("https://evil.example","Click")', domain="-evil.example"
    )
    factories.CustomerRelationshipFactory(partner=world, customer=evil)
    factories.SubscriptionFactory(
        customer=evil, provider=contoso, support_contact=world, offer_name="@SUM(A1:A2)"
    )

    rows = _csv(fabrikam_client.get(EXPORT, {"q": "evil"}))

    assert rows[1][:4] == [
        '\'=HYPERLINK("https://evil.example","Click")',
        "'-evil.example",
        rows[1][2],
        "'@SUM(A1:A2)",
    ]
    # and the page shows the name as it is, escaped
    html = fabrikam_client.get(PAGE, {"q": "evil"}).content.decode()
    assert "=HYPERLINK(&quot;https://evil.example&quot;,&quot;Click&quot;)" in html


def test_the_export_is_read_a_batch_at_a_time(fabrikam_client, world, adatum, partner_named):
    from customers import history_export

    contoso = partner_named("Contoso Distribution")
    Subscription.objects.bulk_create(
        Subscription(
            customer=adatum,
            provider=contoso,
            support_contact=world,
            offer_name=f"Bulk {i}",
            billing_cycle="monthly",
            term="P1Y",
            commerce_type="legacy",
        )
        for i in range(history_export.BATCH + 5)
    )
    response = fabrikam_client.get(EXPORT)
    chunks = list(response.streaming_content)
    assert len(chunks) >= 3  # the header, then a chunk per batch
    assert sum(chunk.count(b"\r\n") for chunk in chunks) == 1 + len(_supported_by(world))


def test_another_users_visit_does_not_change_what_is_new(client, world, demo_user):
    colleague = factories.StaffUserFactory(partner=world, roles=["admin_agent"])
    client.force_login(colleague)
    client.get(PAGE)
    assert PageVisit.objects.filter(user=colleague).count() == 1
    assert not PageVisit.objects.filter(user=demo_user("fabrikam")).exists()
    assert User.objects.get(pk=colleague.pk).page_visits.get().previous_at is None
