"""axe-core (carried by axe-playwright-python) on every page of the demo world, as each kind of
user, on a desktop and on a phone, in English and in Hungarian (the longest words): every rule
that axe runs, best practices included, and no violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import Resolver404, resolve

from tests.e2e.conftest import sign_in_on
from tests.e2e.demo_pages import PAGES, USERS, pages_of, world_in_use

SCREENS = {
    "desktop-en": ({"width": 1366, "height": 900}, "en-US"),
    "phone-en": ({"width": 390, "height": 844}, "en-US"),
    "phone-hu": ({"width": 390, "height": 844}, "hu-HU"),
}
_axe = Axe()


def _violations(page) -> list[str]:
    results = _axe.run(page)
    return [
        f"{page.url}: {v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
    ]


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("kind", list(USERS))
def test_no_page_has_an_accessibility_violation(new_page, live_demo_world, kind, screen):
    username = USERS[kind]
    viewport, locale = SCREENS[screen]
    pages = pages_of(username) + world_in_use()[kind]  # with the error pages it shows
    assert len(pages) >= 2, pages  # the walk found the user's pages
    page = new_page(locale=locale)
    page.set_viewport_size(viewport)
    if username:
        sign_in_on(page, username)
    found = []
    for url in pages:
        page.goto(url)
        found += _violations(page)
    assert not found, "\n".join(found)


@pytest.mark.django_db
def test_the_pages_checked_are_every_page(demo_world):
    """What the test above opens, over every kind of user, is every page of the product."""
    extras = world_in_use()
    shown = {
        match.view_name
        for kind in USERS
        for url in pages_of(USERS[kind]) + extras[kind]
        if (match := _resolved(url.split("?")[0]))
    }
    assert PAGES - shown == set(), "pages no user is checked on"


def _resolved(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None
