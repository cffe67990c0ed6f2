"""The customers list: search (htmx and plain GET), 25 a page, sorting by name."""

import html
import re

import pytest
from django.db import connection
from django.urls import reverse

from customers.forms import CustomerSearchForm
from customers.models import Customer
from demo.world import add_customers
from partnercenter.keyset import KeysetPaginator
from partnercenter.models import Partner
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
    order = CustomerSearchForm({"sort": sort}).ordering
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
    searched = CustomerSearchForm({"q": "ada"}).search(Customer.objects.all()).order_by()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = searched.explain()
    assert "customers_customer_name_trgm" in plan
    assert "customers_customer_domain_trgm" in plan
