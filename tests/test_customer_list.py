"""The customers list: search (htmx and plain GET), 25 a page, sorting by name."""

import pytest
from django.db import connection
from django.urls import reverse

from customers.forms import CustomerSearchForm
from customers.models import Customer
from demo.world import add_customers
from partnercenter.models import Partner
from tests import factories

pytestmark = pytest.mark.django_db
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


def test_the_list_pages_by_25_and_sorts_by_name(agent):
    provider = Partner.objects.get(name="Contoso Distribution")
    total = 25 * 2 + 3
    add_customers(names=[f"Zz Test {i:03}" for i in range(total)], provider=provider, resellers=[])
    all_count = agent.get(URL).context["page"].paginator.count
    page = agent.get(URL, {"q": "zz test", "page": 3}).context["page"]
    assert page.paginator.count == total
    assert len(page.object_list) == 3
    assert all_count > total

    ascending = agent.get(URL, {"q": "zz test"}).context["page"].object_list
    descending = agent.get(URL, {"q": "zz test", "sort": "-name"}).context["page"].object_list
    assert ascending[0].name == "Zz Test 000"
    assert descending[0].name == f"Zz Test {total - 1:03}"


def test_bad_page_and_sort_values_fall_back_gracefully(agent):
    response = agent.get(URL, {"page": "banana", "sort": "password"})
    assert response.status_code == 200
    assert response.context["page"].number == 1


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
