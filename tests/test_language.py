"""Which language a page speaks: the account's choice, the cookie, then the browser's."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


def test_the_browsers_language_is_used(client):
    response = client.get(
        reverse("partnercenter:login"), headers={"Accept-Language": "ru,en;q=0.5"}
    )
    assert response["Content-Language"] == "ru"
    assert '<html lang="ru">' in response.content.decode()
    assert "Войти" in response.content.decode() or "Имя пользователя" in response.content.decode()


def test_traditional_chinese_is_chosen_for_taiwan(client):
    response = client.get(reverse("partnercenter:login"), headers={"Accept-Language": "zh-TW"})
    assert response["Content-Language"] == "zh-hant"


def test_the_switcher_sets_the_language_for_an_anonymous_visitor(client):
    response = client.post(
        reverse("partnercenter:set_language"), {"language": "nl", "next": "/accounts/login/"}
    )
    assert response.status_code == 302
    page = client.get(reverse("partnercenter:login"), headers={"Accept-Language": "de"})
    assert page["Content-Language"] == "nl"


def test_a_signed_in_users_choice_is_remembered_on_the_account(client, demo_user):
    client.force_login(demo_user("adminagent"))
    client.post(reverse("partnercenter:set_language"), {"language": "hu", "next": "/"})
    assert demo_user("adminagent").language == "hu"

    client.cookies.clear()  # another browser: no cookie, a German Accept-Language
    client.force_login(demo_user("adminagent"))
    page = client.get(reverse("dashboard:dashboard"), headers={"Accept-Language": "de"})
    assert page["Content-Language"] == "hu"


def test_an_unknown_language_changes_nothing(client, demo_user):
    client.force_login(demo_user("adminagent"))
    client.post(reverse("partnercenter:set_language"), {"language": "xx", "next": "/"})
    assert demo_user("adminagent").language == ""


@pytest.mark.parametrize(
    ("language", "customers", "submit"),
    [
        ("de", "Kunden", "Übermitteln"),
        ("nl", "Klanten", "Verzenden"),
        ("hu", None, "Küldés"),
        ("ru", "Клиенты", "Отправить"),
    ],
)
def test_the_flow_uses_the_words_of_the_source_pages(
    client, demo_user, premium, language, customers, submit
):
    client.force_login(demo_user("adminagent"))
    url = reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
    html = client.get(url, headers={"Accept-Language": language}).content.decode()
    if customers:
        assert f">{customers}</a>" in html
    assert f">{submit}</button>" in html


def test_dates_and_numbers_follow_the_language(client, demo_user, premium):
    client.force_login(demo_user("adminagent"))
    url = reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
    german = client.get(url, headers={"Accept-Language": "de"}).content.decode()
    english = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    created = premium.created_at
    assert f"{created.day}. " in german  # "21. November 2026"
    assert created.strftime("%b.") in english or created.strftime("%B") in english
