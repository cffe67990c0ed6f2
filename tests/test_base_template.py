"""What every page shows around its content: the navigation, the language menu, sign out.
Built once and reused, so these check that the reused parts still follow the request."""

import re

import pytest
from django.urls import reverse, set_script_prefix

pytestmark = pytest.mark.django_db


def _navigation(html: str) -> list[tuple[str, str, bool]]:
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    return [
        (label, href, bool(current))
        for href, current, label in re.findall(
            r'<li><a href="([^"]+)"( aria-current="page")?>([^<]+)</a></li>', nav
        )
    ]


def test_the_navigation_marks_the_section_the_page_is_in(client, demo_user, adatum):
    client.force_login(demo_user("adminagent"))
    html = client.get(reverse("customers:customer_detail", args=[adatum.pk])).content.decode()
    assert ("Customers", "/customers/", True) in _navigation(html)
    assert ("History", "/history/", False) in _navigation(html)

    html = client.get(reverse("customers:history")).content.decode()
    assert ("Customers", "/customers/", False) in _navigation(html)
    assert ("History", "/history/", True) in _navigation(html)


def test_the_navigation_speaks_the_language_of_each_request(client, demo_user):
    client.force_login(demo_user("adminagent"))
    url = reverse("customers:customer_list")
    english = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    german = client.get(url, headers={"Accept-Language": "de"}).content.decode()
    again = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    assert ("Customers", "/customers/", True) in _navigation(english)
    assert ("Kunden", "/customers/", True) in _navigation(german)
    assert _navigation(again) == _navigation(english)


def test_users_with_other_roles_see_their_own_navigation(client, demo_user):
    client.force_login(demo_user("usermgmtadmin"))
    client.get(reverse("partnercenter:user_list"))
    client.force_login(demo_user("adminagent"))
    html = client.get("/customers/").content.decode()
    labels = [label for label, _url, _current in _navigation(html)]
    assert "Customers" in labels
    assert "Users" not in labels


def test_the_language_menu_names_each_language_in_itself_and_selects_the_current_one(
    client, demo_user
):
    client.force_login(demo_user("adminagent"))
    html = client.get("/customers/", headers={"Accept-Language": "de"}).content.decode()
    options = re.findall(r'<option value="([^"]+)" lang="\1"( selected)?>([^<]+)</option>', html)
    assert [(code, name) for code, _selected, name in options] == [
        ("en", "English"),
        ("de", "Deutsch"),
        ("nl", "Nederlands"),
        ("hu", "Magyar"),
        ("ru", "Русский"),
        ("zh-hant", "繁體中文"),
    ]
    assert [code for code, selected, _name in options if selected] == ["de"]
    assert '<input type="hidden" name="next" value="/customers/">' in html


@pytest.fixture
def served_under_pc():
    """What a WSGI server does for a site mounted at /pc/ (the test client does not)."""
    set_script_prefix("/pc/")
    yield {"SCRIPT_NAME": "/pc"}
    set_script_prefix("/")


def test_links_follow_the_prefix_the_site_is_served_under(client, demo_user, served_under_pc):
    client.force_login(demo_user("adminagent"))
    set_script_prefix("/")
    client.get("/customers/")  # the same links without the prefix, built first
    set_script_prefix("/pc/")
    html = client.get("/customers/", **served_under_pc).content.decode()
    assert ("Customers", "/pc/customers/", True) in _navigation(html)
    assert 'action="/pc/i18n/setlang/"' in html
    assert 'action="/pc/accounts/logout/"' in html
    assert '<a class="brand" href="/pc/">' in html


def test_an_htmx_partial_carries_no_page_chrome(client, demo_user):
    client.force_login(demo_user("adminagent"))
    html = client.get(
        "/customers/", {"q": "a"}, headers={"HX-Request": "true", "HX-Target": "customer-results"}
    ).content.decode()
    assert "mainnav" not in html
    assert "language-select" not in html
