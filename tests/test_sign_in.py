"""Sign-in, sign-out, where `/` leads, and that nothing opens without signing in."""

import pytest
from django.urls import reverse

from demo.world import DEMO_PASSWORD, DEMO_USERS
from tests import factories
from tests.factories import TEST_PASSWORD
from tests.urlwalk import product_routes


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


LOGIN_URL = "/accounts/login/"


def test_the_sign_in_page_has_username_password_and_sign_in(client, db):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert ">Username</label>" in html
    assert ">Password</label>" in html
    assert ">Sign in</button>" in html


def test_root_sends_an_anonymous_visitor_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"{LOGIN_URL}?next=/"


@pytest.mark.parametrize(
    "route", [r for r in product_routes() if r.view.access_policy != "public"], ids=str
)
def test_every_page_but_the_public_ones_redirects_an_anonymous_visitor(client, db, route):
    for method in (client.get, client.post):
        response = method(route.path)
        assert response.status_code == 302, route
        assert response.url.startswith(f"{LOGIN_URL}?next="), route


def test_the_back_office_sends_an_anonymous_visitor_to_sign_in(client, db):
    response = client.get("/backoffice/", follow=True)
    assert response.redirect_chain[-1][0] == f"{LOGIN_URL}?next=%2Fbackoffice%2F"
    assert response.templates[0].name == "registration/login.html"


@pytest.mark.parametrize("route", product_routes(), ids=str)
def test_every_view_declares_an_access_policy(route):
    assert getattr(route.view, "access_policy", None), f"{route} declares no access policy"


@pytest.mark.parametrize("demo", DEMO_USERS, ids=lambda d: d.username)
def test_every_demo_user_signs_in_and_lands_at_home(client, demo_world, demo):
    response = client.post(
        LOGIN_URL, {"username": demo.username, "password": DEMO_PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.context["user"].username == demo.username
    expected = {
        "adatumadmin": "customers:customer_admin_home",
        "usermgmtadmin": "partnercenter:my_access",
    }.get(demo.username, "dashboard:dashboard")
    assert response.redirect_chain[-1][0] == reverse(expected)


def test_a_wrong_password_is_refused_with_a_clear_message(client, demo_world):
    response = client.post(LOGIN_URL, {"username": "adminagent", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_returns_to_the_page_asked_for(client, demo_world):
    response = client.post(
        f"{LOGIN_URL}?next=/dashboard/",
        {"username": "adminagent", "password": DEMO_PASSWORD, "next": "/dashboard/"},
    )
    assert response.status_code == 302
    assert response.url == "/dashboard/"


def test_sign_in_never_redirects_to_another_site(client, demo_world):
    response = client.post(
        LOGIN_URL,
        {"username": "adminagent", "password": DEMO_PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert "evil.example" not in response.url


def test_sign_out_ends_the_session(client, db):
    user = factories.StaffUserFactory(roles=["admin_agent"])
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 200
    response = client.post(reverse("partnercenter:logout"))
    assert response.status_code == 302
    assert response.url == reverse("partnercenter:login")
    assert client.get("/dashboard/").status_code == 302


def test_sign_out_is_a_post_not_a_link(client, db):
    client.force_login(factories.StaffUserFactory(roles=["admin_agent"]))
    assert client.get(reverse("partnercenter:logout")).status_code == 405


def test_a_signed_in_user_visiting_sign_in_goes_home(client, db):
    client.force_login(factories.StaffUserFactory(roles=["admin_agent"]))
    response = client.get(LOGIN_URL)
    assert response.status_code == 302


def test_a_staff_user_without_a_role_sees_a_page_saying_so(client, db):
    user = factories.StaffUserFactory()
    response = client.post(
        LOGIN_URL, {"username": user.username, "password": TEST_PASSWORD}, follow=True
    )
    html = response.content.decode()
    assert "holds no role yet" in html
    assert client.get(reverse("dashboard:dashboard")).status_code == 403


def test_a_customer_admin_cannot_open_the_staff_dashboard(client, db):
    client.force_login(factories.CustomerAdminFactory())
    assert client.get(reverse("dashboard:dashboard")).status_code == 403


def test_partner_staff_cannot_open_the_customer_admin_area(client, db):
    client.force_login(factories.StaffUserFactory(roles=["global_admin"]))
    assert client.get(reverse("customers:customer_admin_home")).status_code == 403


def test_the_dashboard_counts_only_the_partners_own_world(client, db):
    mine = factories.SubscriptionFactory()
    factories.CustomerRelationshipFactory(partner=mine.provider, customer=mine.customer)
    factories.SubscriptionFactory()  # another provider's
    user = factories.StaffUserFactory(partner=mine.provider, roles=["sales_agent"])
    client.force_login(user)
    response = client.get(reverse("dashboard:dashboard"))
    figures = response.context["figures"]
    assert (figures.customers, figures.subscriptions, figures.contacts) == (1, 1, 1)
    assert [row.name for row in figures.top] == [mine.provider.name]


@pytest.mark.parametrize(
    ("username", "links"),
    [
        (
            "globaladmin",
            [
                "Dashboard",
                "Customers",
                "Indirect resellers",
                "History",
                "Users",
                "Support profile",
                "API tokens",
                "Webhooks",
                "My access",
            ],
        ),
        (
            "adminagent",
            [
                "Dashboard",
                "Customers",
                "Indirect resellers",
                "History",
                "Support profile",
                "API tokens",
                "My access",
            ],
        ),
        (
            "helpdeskagent",
            ["Dashboard", "Customers", "Indirect resellers", "History", "API tokens", "My access"],
        ),
        (
            "salesagent",
            ["Dashboard", "Customers", "Indirect resellers", "History", "API tokens", "My access"],
        ),
        (
            "fabrikam",
            [
                "Dashboard",
                "Customers",
                "Supported subscriptions",
                "Indirect providers",
                "History",
                "Support profile",
                "API tokens",
                "My access",
            ],
        ),
        ("usermgmtadmin", ["Users", "Support profile", "API tokens", "My access"]),
        ("adatumadmin", ["Admin", "Support", "Partner relationships", "My access"]),
    ],
)
def test_the_navigation_shows_only_what_the_user_may_use(client, demo_user, username, links):
    client.force_login(demo_user(username))
    response = client.get(reverse("partnercenter:home"), follow=True)
    assert [link.label for link in response.context["navigation"]] == links


def test_pages_carry_a_strict_content_security_policy(client, db):
    policy = client.get(LOGIN_URL)["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
