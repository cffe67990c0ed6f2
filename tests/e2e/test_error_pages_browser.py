"""The error pages in a real browser, as the browser-wide gates check every other page: no
accessibility violation (axe, best practices included), nothing wider than a phone, in English
and in Hungarian (the longest words), each with the request's reference.

The 500 and 503 pages need a fault: the live server runs in this process, so a patch here makes
its session read (503: the database away) or a view (500: a defect) fail for the next request.
"""

from unittest import mock

import pytest
from django.db import OperationalError
from django.urls import reverse

from tests.e2e.conftest import sign_in_on
from tests.e2e.test_accessibility_browser import _violations

SCREENS = {
    "desktop-en": ({"width": 1366, "height": 900}, "en-US"),
    "phone-hu": ({"width": 360, "height": 740}, "hu-HU"),
}
WIDER_THAN_THE_SCREEN = "() => document.documentElement.scrollWidth > window.innerWidth"


def _checked(page, answer, status: int) -> None:
    assert answer.status == status
    reference = page.locator(".request-reference code").inner_text()
    assert reference == answer.headers["x-request-id"]
    assert _violations(page) == []
    assert not page.evaluate(WIDER_THAN_THE_SCREEN)


@pytest.fixture(params=list(SCREENS))
def screen(request):
    return SCREENS[request.param]


@pytest.fixture
def staff_page(screen, new_page, live_demo_world):
    viewport, locale = screen
    page = new_page(locale=locale)
    page.set_viewport_size(viewport)
    sign_in_on(page, "adminagent")
    return page


def test_not_found(staff_page):
    _checked(staff_page, staff_page.goto("/customers/999999/"), 404)


def test_not_allowed(staff_page):
    _checked(staff_page, staff_page.goto(reverse("partnercenter:user_list")), 403)


def test_the_database_away(staff_page, screen):
    refused = OperationalError("the database system is starting up")
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=refused):
        answer = staff_page.goto(reverse("customers:customer_list"))
    _checked(staff_page, answer, 503)
    assert answer.headers["retry-after"] == "5"
    # The user's choice is in the database: the browser's language speaks instead.
    _, locale = screen
    assert staff_page.locator("html").get_attribute("lang") == locale.split("-")[0]


def test_a_defect(staff_page):
    with mock.patch("customers.views.CustomerSearchForm", side_effect=KeyError("boom")):
        answer = staff_page.goto(reverse("customers:customer_list"))
    _checked(staff_page, answer, 500)
    assert "boom" not in staff_page.content()
