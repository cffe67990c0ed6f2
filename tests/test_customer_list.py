"""The customers list: search (htmx and plain GET), 25 a page, sorting by name."""

import html
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.urls import reverse

from customers.forms import CustomerSearchForm
from customers.models import Customer, Subscription
from demo.world import add_customers
from partnercenter.keyset import KeysetPaginator
from partnercenter.models import Partner
from partnercenter.roles import Role
from relationships.models import CustomerRelationship
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


URL = reverse("customers:customer_list")


@pytest.fixture
def agent(client, demo_user):
    client.force_login(demo_user("adminagent"))
    return client


def test_search_by_name_finds_the_customer(agent):
    response = agent.get(URL, {"q": "adatum"})
    names = [c.name for c in response.context["page"].object_list]
    assert names == ["Adatum Corporation"]


def test_search_by_domain_finds_the_customer(agent):
    response = agent.get(URL, {"q": "adatum.exam"})
    assert [c.domain for c in response.context["page"].object_list] == ["adatum.example"]


def test_a_search_that_matches_nothing_says_so(agent):
    html = agent.get(URL, {"q": "no-such-company"}).content.decode()
    assert "No customer matches “no-such-company”." in html


def test_htmx_search_answers_with_the_results_partial_only(agent):
    response = agent.get(
        URL, {"q": "adatum"}, headers={"HX-Request": "true", "HX-Target": "customer-results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="customer-results"')
    assert "<html" not in html
    assert "Adatum Corporation" in html
    assert response["Vary"].count("HX-Request") == 1


def test_a_boosted_or_untargeted_htmx_request_gets_the_whole_page(agent):
    response = agent.get(URL, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in response.content.decode()


def names(response) -> list[str]:
    return [c.name for c in response.context["page"].object_list]


def link(response, text: str) -> str | None:
    """The URL of the page's First, Previous or Next link, or None."""
    found = re.search(rf'href="([^"]+)"[^>]*>{text}</a>', response.content.decode())
    return URL + html.unescape(found.group(1)) if found else None


def next_of(response):
    return link(response, "Next")


def previous_of(response):
    return link(response, "Previous")


def first_of(response):
    return link(response, "First")


@pytest.fixture
def fifty_three(demo_world):
    provider = Partner.objects.get(name="Contoso Distribution")
    made = [f"Zz Test {i:03}" for i in range(25 * 2 + 3)]
    add_customers(names=made, provider=provider, resellers=[])
    return made


def test_the_list_pages_by_25_forward_and_back_without_counting(agent, fifty_three):
    first = agent.get(URL, {"q": "zz test"})
    assert names(first) == fifty_three[:25]
    assert "Customers 1–25" in first.content.decode()
    assert previous_of(first) is None
    assert first_of(first) is None

    second = agent.get(next_of(first))
    assert names(second) == fifty_three[25:50]
    assert "Customers 26–50" in second.content.decode()
    third = agent.get(next_of(second))
    assert names(third) == fifty_three[50:]
    assert "Customers 51–53" in third.content.decode()
    assert next_of(third) is None

    back = agent.get(previous_of(third))
    assert names(back) == fifty_three[25:50]
    assert "Customers 26–50" in back.content.decode()
    back_to_first = agent.get(previous_of(back))
    assert names(back_to_first) == fifty_three[:25]
    assert previous_of(back_to_first) is None  # the beginning again, known without a count
    assert names(agent.get(first_of(third))) == fifty_three[:25]


def test_the_links_keep_the_search_and_the_sort(agent, fifty_three):
    first = agent.get(URL, {"q": "zz test", "sort": "-name"})
    assert names(first) == fifty_three[::-1][:25]
    following = next_of(first)
    assert "q=zz+test" in following
    assert "sort=-name" in following
    second = agent.get(following)
    assert names(second) == fifty_three[::-1][25:50]
    # sorting the other way starts from the beginning
    resort = re.search(r'aria-sort.*?href="([^"]+)"', second.content.decode(), re.S)[1]
    assert "after=" not in resort
    assert "sort=name" in resort
    assert names(agent.get(URL + html.unescape(resort))) == fifty_three[:25]


def test_a_search_that_fits_on_one_page_says_how_many_it_found(agent):
    html_text = agent.get(URL, {"q": "adatum"}).content.decode()
    assert "1 customer" in html_text
    assert 'rel="next"' not in html_text


def test_customers_with_the_same_name_each_appear_once(agent, demo_world):
    provider = Partner.objects.get(name="Contoso Distribution")
    add_customers(names=["Twin Corp"] * 30, provider=provider, resellers=[])
    twins = set(Customer.objects.filter(name="Twin Corp").values_list("pk", flat=True))
    for sort in ("name", "-name"):
        first = agent.get(URL, {"q": "twin corp", "sort": sort})
        second = agent.get(next_of(first))
        seen = [c.pk for c in first.context["page"]] + [c.pk for c in second.context["page"]]
        assert sorted(seen) == sorted(twins)  # each once: the id breaks the tie
        assert seen == sorted(seen, reverse=sort == "-name")
        assert next_of(second) is None
        back = agent.get(previous_of(second))
        assert [c.pk for c in back.context["page"]] == seen[:25]


def test_the_htmx_links_swap_the_results_only(agent, fifty_three):
    headers = {"HX-Request": "true", "HX-Target": "customer-results"}
    first = agent.get(URL, {"q": "zz test"}, headers=headers)
    fragment = first.content.decode()
    assert fragment.lstrip().startswith('<section id="customer-results"')
    assert 'hx-target="#customer-results"' in fragment
    second = agent.get(next_of(first), headers=headers)
    assert "<html" not in second.content.decode()
    assert names(second) == fifty_three[25:50]


def test_bad_page_and_sort_values_fall_back_gracefully(agent):
    response = agent.get(URL, {"page": "banana", "sort": "password"})
    assert response.status_code == 200
    assert response.context["page"].is_first


def _token(user_partner, sort="name", position=25, name="Adatum Corporation"):
    """A continuation token as the customers list of `user_partner`'s staff makes it."""
    order = CustomerSearchForm.SORTS[sort]
    paginator = KeysetPaginator(Customer.objects.all(), order, 25, world=user_partner.pk)
    return paginator.token_for(Customer(pk=10**6, name=name), position)


@pytest.mark.parametrize(
    "token",
    [
        "banana",
        "",
        "a:b:c",
        "eyJrIjpbIngiLCIxIl0sInAiOjF9:forged-signature",
        "%00",
        "x" * 5000,
        "\x00",
        "eyJrIjpbIngiXSwicCI6MX0",
    ],
)
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_garbled_or_forged_token_gives_the_first_page_and_says_so(agent, token, direction):
    response = agent.get(URL, {direction: token})
    assert response.status_code == 200
    page = response.context["page"]
    assert page.is_first
    assert names(response) == names(agent.get(URL))
    if token:
        assert "This page link is not valid here" in response.content.decode()


def test_a_tampered_token_is_refused(agent, partner_named):
    token = _token(partner_named("Contoso Distribution"))
    payload, signature = token.split(":")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + ":" + signature
    response = agent.get(URL, {"after": tampered})
    assert response.context["page"].notice
    assert response.context["page"].is_first


def test_a_colleagues_link_works_and_another_partners_or_sorts_token_does_not(agent, partner_named):
    contoso, fabrikam = partner_named("Contoso Distribution"), partner_named("Fabrikam Solutions")
    own = agent.get(URL, {"after": _token(contoso, name="Adatum Corporation", position=1)})
    assert not own.context["page"].notice
    assert names(own)[0] > "Adatum Corporation"
    # Fabrikam's world: its token is refused, and what it carries is not shown
    secret = "Wingtip Secret Customer"
    foreign = agent.get(URL, {"after": _token(fabrikam, name=secret)})
    assert foreign.context["page"].notice
    assert foreign.context["page"].is_first
    assert secret not in foreign.content.decode()
    other_sort = agent.get(URL, {"after": _token(contoso, sort="-name"), "sort": "name"})
    assert other_sort.context["page"].notice


def test_a_token_only_says_where_to_start_never_what_is_seen(client, demo_user, partner_named):
    """A reseller following a link made in its own world sees its own customers only."""
    fabrikam = partner_named("Fabrikam Solutions")
    client.force_login(demo_user("fabrikam"))
    own = set(
        Customer.objects.restrict(demo_user("fabrikam"), "view").values_list("name", flat=True)
    )
    response = client.get(URL, {"after": _token(fabrikam, name="", position=1)})
    assert not response.context["page"].notice
    assert set(names(response)) == own


def test_only_the_partners_own_customers_are_listed(agent):
    factories.CustomerFactory(name="Adatum Impostor")  # nobody's customer
    response = agent.get(URL, {"q": "adatum"})
    assert [c.name for c in response.context["page"].object_list] == ["Adatum Corporation"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_the_search_is_served_by_trigram_indexes_on_postgresql():
    """The indexes match the expression Django's icontains writes (UPPER(column) LIKE ...):
    with full scans priced out (a few test rows make them the cheapest), the planner uses them."""
    form = CustomerSearchForm(
        {"q": "ada"},
        subscriptions=Subscription.objects.none(),
        relationships=CustomerRelationship.objects.none(),
    )
    searched = form.search(Customer.objects.all()).order_by()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = searched.explain()
    assert "customers_customer_name_trgm" in plan
    assert "customers_customer_domain_trgm" in plan


# The columns, sorts and filters, in a small world of its own: provider Northwind with resellers
# Aster and Birch; each customer's subscriptions are Northwind's unless said otherwise.


@dataclass
class Northwind:
    staff: object
    aster: Partner
    birch: Partner
    other_provider: Partner
    customers: dict[str, Customer]


@pytest.fixture
def northwind(db):
    provider = factories.ProviderFactory(name="Northwind Distribution")
    aster = factories.ResellerFactory(name="Aster Reseller", partner_id="7100001")
    birch = factories.ResellerFactory(name="Birch Reseller", partner_id="7100002")
    other = factories.ProviderFactory(name="Elsewhere Distribution")
    for reseller in (aster, birch):
        factories.ResellerPartnershipFactory(provider=provider, reseller=reseller, state="active")
    customers = {}

    def customer(name, *subscriptions, relationships=()):
        made = factories.CustomerFactory(name=name, domain=f"{name.lower()}.example")
        factories.CustomerRelationshipFactory(partner=provider, customer=made)
        for partner in relationships:
            factories.CustomerRelationshipFactory(partner=partner, customer=made)
        for contact, reseller, commerce in subscriptions:
            made_subscription = factories.SubscriptionFactory(
                customer=made,
                provider=provider,
                support_contact=contact,
                reseller_of_record=reseller,
                commerce_type=commerce,
            )
            if contact is None:  # as rows from before the contact was always set
                Subscription.objects.filter(pk=made_subscription.pk).update(support_contact=None)
        customers[name] = made

    legacy, new = Subscription.CommerceType.LEGACY, Subscription.CommerceType.NEW_COMMERCE
    customer("Alpha", (aster, aster, legacy), (None, None, legacy), relationships=[aster])
    customer("Bravo", (birch, birch, new), (birch, birch, new), (provider, None, legacy))
    customer("Charlie", relationships=[birch])
    customer("Delta", (provider, None, new))
    # Delta's subscription billed by another provider: not Northwind's to count or show
    factories.CustomerRelationshipFactory(partner=other, customer=customers["Delta"])
    factories.SubscriptionFactory(
        customer=customers["Delta"], provider=other, support_contact=other
    )
    staff = factories.StaffUserFactory(partner=provider, roles=[Role.ADMIN_AGENT])
    return Northwind(staff, aster, birch, other, customers)


@pytest.fixture
def northwind_agent(client, northwind):
    client.force_login(northwind.staff)
    return client


def rows_of(response) -> list[tuple[str, int, list[str]]]:
    return [(r.customer.name, r.subscriptions, r.contacts) for r in response.context["rows"]]


def test_each_customer_shows_the_subscriptions_and_contacts_the_user_sees(northwind_agent):
    response = northwind_agent.get(URL)
    assert rows_of(response) == [
        ("Alpha", 2, ["Aster Reseller", ""]),
        ("Bravo", 3, ["Birch Reseller", "Northwind Distribution"]),
        ("Charlie", 0, []),
        ("Delta", 1, ["Northwind Distribution"]),  # not Elsewhere's subscription
    ]
    page = response.content.decode()
    assert "Elsewhere Distribution" not in page
    assert "Aster Reseller, Not set" in page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alpha", "Bravo", "Charlie", "Delta"]),
        ("-name", ["Delta", "Charlie", "Bravo", "Alpha"]),
        ("domain", ["Alpha", "Bravo", "Charlie", "Delta"]),
        ("-domain", ["Delta", "Charlie", "Bravo", "Alpha"]),
        ("-subscriptions", ["Bravo", "Alpha", "Delta", "Charlie"]),
        ("subscriptions", ["Charlie", "Delta", "Alpha", "Bravo"]),
        ("contacts", ["Charlie", "Alpha", "Bravo", "Delta"]),  # none first, then by first name
        ("-contacts", ["Delta", "Bravo", "Alpha", "Charlie"]),
    ],
)
def test_every_column_sorts_both_ways(northwind_agent, sort, expected):
    assert names(northwind_agent.get(URL, {"sort": sort})) == expected


@pytest.mark.parametrize("sort", list(CustomerSearchForm.SORTS))
def test_every_sort_pages_through_each_customer_once(northwind_agent, northwind, sort):
    provider = northwind.staff.partner
    add_customers(names=[f"Paged {i:02}" for i in range(55)], provider=provider, resellers=[])
    everyone = names(northwind_agent.get(URL, {"sort": sort}))
    seen, response = [], northwind_agent.get(URL, {"sort": sort})
    while True:
        seen += names(response)
        following = next_of(response)
        if following is None:
            break
        assert f"sort={sort}" in following
        response = northwind_agent.get(following)
    assert len(seen) == len(set(seen)) == 59
    assert seen[:25] == everyone
    back = northwind_agent.get(previous_of(response))
    assert names(back) == seen[25:50]


def test_the_header_links_sort_and_say_how(northwind_agent):
    page = northwind_agent.get(URL, {"sort": "-subscriptions"}).content.decode()
    header = re.search(r'<th[^>]*aria-sort="descending"[^>]*>\s*<a href="([^"]+)"', page)
    assert "sort=subscriptions" in html.unescape(header[1])  # again: the other way
    assert page.count("aria-sort=") == 1
    assert 'href="?sort=contacts"' in page  # another column: its first way


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"reseller": "Aster"}, ["Alpha"]),
        ({"reseller": "7100002"}, ["Bravo"]),  # by partner id
        ({"partner": "Birch Reseller"}, ["Charlie"]),  # an active relationship
        ({"contact": "birch"}, ["Bravo"]),
        ({"contact": "Northwind Distribution"}, ["Bravo", "Delta"]),
        ({"no_contact": "on"}, ["Alpha"]),
        ({"commerce": "new_commerce"}, ["Bravo", "Delta"]),
        ({"commerce": "legacy", "contact": "Aster"}, ["Alpha"]),
        ({"commerce": "new_commerce", "contact": "Aster"}, []),  # one subscription meets both
        ({"q": "bra", "commerce": "new_commerce"}, ["Bravo"]),
    ],
)
def test_the_filters_narrow_the_list(northwind_agent, filters, expected):
    response = northwind_agent.get(URL, filters)
    assert names(response) == expected
    if not expected:
        assert "No customer matches these filters." in response.content.decode()


def test_a_filter_by_our_own_partner_id_as_a_link_carries_it(northwind_agent, northwind):
    response = northwind_agent.get(URL, {"contact": str(northwind.birch.pk)})
    assert names(response) == ["Bravo"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"contact": "Elsewhere"}, "No designated support contact of your subscriptions matches"),
        ({"reseller": "Birch", "contact": "zzz"}, "No designated support contact"),
        ({"partner": "Elsewhere Distribution"}, "No partner with a relationship with your"),
        ({"reseller": "Reseller"}, "Several partners match “Reseller”"),
    ],
)
def test_a_partner_not_in_the_users_world_is_refused_and_that_filter_left_out(
    northwind_agent, northwind, filters, message
):
    response = northwind_agent.get(URL, filters)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    expected = ["Bravo"] if "reseller" in filters and filters["reseller"] == "Birch" else None
    assert names(response) == (expected or ["Alpha", "Bravo", "Charlie", "Delta"])


def test_another_providers_partner_id_finds_nothing_of_theirs(northwind_agent, northwind):
    response = northwind_agent.get(URL, {"contact": str(northwind.other_provider.pk)})
    assert "No designated support contact of your subscriptions matches" in (
        response.content.decode()
    )
    assert "Elsewhere" not in "".join(c for row in rows_of(response) for c in row[2])


def test_a_list_of_many_pages_offers_the_last_and_counts_them_all(northwind_agent, northwind):
    add_customers(
        names=[f"Zz {i:02}" for i in range(30)], provider=northwind.staff.partner, resellers=[]
    )
    first = northwind_agent.get(URL)
    assert "Customers 1–25 of 34" in first.content.decode()
    last = northwind_agent.get(link(first, "Last"))
    assert names(last) == [f"Zz {i:02}" for i in range(5, 30)]
    assert "Customers 10–34 of 34" in last.content.decode()
    assert link(last, "Next") is None
    assert link(last, "Last") is None
    before = northwind_agent.get(previous_of(last))
    assert names(before) == [
        "Alpha",
        "Bravo",
        "Charlie",
        "Delta",
        *(f"Zz {i:02}" for i in range(5)),
    ]
    # a filtered list is not counted: no total, no Last
    filtered = northwind_agent.get(URL, {"q": "zz"})
    assert "Customers 1–25" in filtered.content.decode()
    assert " of " not in filtered.context["result_count"]
    assert link(filtered, "Last") is None


def test_the_filters_are_kept_in_the_page_links(northwind_agent, northwind):
    add_customers(
        names=[f"Zz {i:02}" for i in range(30)], provider=northwind.staff.partner, resellers=[]
    )
    asked = {"q": "zz", "partner": "Northwind Distribution", "sort": "-name"}
    first = northwind_agent.get(URL, asked)
    assert len(names(first)) == 25
    following = next_of(first)
    assert "partner=Northwind+Distribution" in following
    assert "q=zz" in following
    assert "sort=-name" in following
    second = northwind_agent.get(following)
    assert names(second) == [f"Zz {i:02}" for i in range(4, -1, -1)]
    assert "partner=Northwind+Distribution" in previous_of(second)


def test_a_reseller_sees_only_the_subscriptions_it_supports(client, northwind):
    aster_staff = factories.StaffUserFactory(partner=northwind.aster, roles=[Role.ADMIN_AGENT])
    client.force_login(aster_staff)
    response = client.get(URL)
    assert rows_of(response) == [("Alpha", 1, ["Aster Reseller"])]
    assert "Northwind" not in response.content.decode()


def test_a_list_too_long_to_sort_by_counts_is_sorted_by_name_and_says_why(
    northwind_agent, monkeypatch
):
    monkeypatch.setattr("customers.views.COUNTED_SORT_LIMIT", 3)
    response = northwind_agent.get(URL, {"sort": "-subscriptions"})
    assert names(response) == ["Alpha", "Bravo", "Charlie", "Delta"]
    page = response.content.decode()
    assert "works on lists of up to 3 customers, so this list is sorted by name" in page
    assert 'aria-sort="ascending"' in page  # the name column says how it is sorted
    narrowed = northwind_agent.get(URL, {"sort": "-subscriptions", "commerce": "new_commerce"})
    assert names(narrowed) == ["Bravo", "Delta"]
    assert "works on lists of up to" not in narrowed.content.decode()


def test_a_rare_and_a_common_filter_give_the_same_customers(northwind_agent, monkeypatch):
    """Few matching rows are read as a list, many stay a subquery: the same answer."""
    as_list = names(northwind_agent.get(URL, {"commerce": "new_commerce"}))
    monkeypatch.setattr("customers.forms.FEW_ROWS", 1)
    assert names(northwind_agent.get(URL, {"commerce": "new_commerce"})) == as_list
