"""A German, a Russian and a Dutch-choosing user, in Chromium."""

import pytest
from django.utils import translation
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_on


def _in(language: str, text: str) -> str:
    """`text` as the catalog of `language` says it: labels, never CSS selectors."""
    with translation.override(language):
        return translation.gettext(text)


def _sign_in(page, username, language):
    page.goto("/")
    page.get_by_label(_in(language, "Username")).fill(username)
    page.get_by_label(_in(language, "Password")).fill("partnercenter-demo")
    page.get_by_role("button", name=_in(language, "Sign in")).click()


@pytest.mark.parametrize(
    ("locale", "customers", "submit", "close"),
    [
        ("de-DE", "Kunden", "Übermitteln", "Schließen"),
        ("ru-RU", "Клиенты", "Отправить", "Закрыть"),
    ],
)
def test_a_browser_in_another_language_gets_the_flow_in_that_language(
    new_page, live_demo_world, locale, customers, submit, close
):
    page = new_page(locale=locale)
    language = locale[:2]
    _sign_in(page, "adminagent", language)
    page.get_by_role("link", name=customers, exact=True).click()
    page.get_by_role("link", name="Adatum Corporation").click()
    page.get_by_role("link", name="Office 365 Business Premium").click()
    page.get_by_label(_in(language, "Designated support contact"), exact=True).select_option(
        label="Fabrikam Solutions"
    )
    page.get_by_role("button", name=submit).click()
    page.get_by_role("link", name=close).click()
    expect(page.get_by_role("heading", name="Adatum Corporation")).to_be_visible()


def test_switching_to_dutch_survives_sign_out_and_sign_in(new_page, live_demo_world):
    page = new_page()
    sign_in_on(page, "helpdeskagent")
    page.get_by_label("Language").select_option(value="nl")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("link", name="Klanten", exact=True)).to_be_visible()

    page.get_by_role("button", name=_in("nl", "Sign out")).click()
    _sign_in(page, "helpdeskagent", "nl")
    expect(page.get_by_role("link", name="Klanten", exact=True)).to_be_visible()

    elsewhere = new_page(locale="en-US")  # another browser: the account remembers
    _sign_in(elsewhere, "helpdeskagent", "en")
    expect(elsewhere.get_by_role("link", name="Klanten", exact=True)).to_be_visible()
