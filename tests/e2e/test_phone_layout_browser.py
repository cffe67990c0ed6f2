"""A phone: no page is wider than a 360 px screen, for any kind of user, in any language; the
main navigation folds into a Menu button there and shows in full on a desktop."""

from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import Resolver404, resolve, reverse
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_on
from tests.e2e.demo_pages import PAGES, USERS, world_in_use

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}
# The paths the page's links lead to; and if the page is wider than the screen, the element that
# reaches furthest past its right edge outside any scrolling box: what to fix.
MEASURE = """() => {
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  if (document.documentElement.scrollWidth <= window.innerWidth) return [links, null];
  const inScroller = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    return false;
  };
  let widest = document.documentElement, right = window.innerWidth;
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > right && !inScroller(el)) { widest = el; right = box.right; }
  }
  const name = `<${widest.tagName.toLowerCase()} class="${widest.className}">`;
  return [links, `${name} ends at ${Math.round(right)} px`];
}"""


class Measured(NamedTuple):
    status: int
    route: str | None  # where the page is, after any redirect
    links: list[str]
    too_wide: str | None


def _route(path: str) -> str | None:
    try:
        return resolve(path).view_name
    except Resolver404:
        return None


def _signed_in(browser, base_url: str, username: str | None) -> dict | None:
    """The cookies of a session of `username` (signing in is slow on purpose: once per user)."""
    if username is None:
        return None
    context = browser.new_context(base_url=base_url)
    sign_in_on(context.new_page(), username)
    context.pages[0].wait_for_url(lambda url: reverse("partnercenter:login") not in url)
    state = context.storage_state()
    context.close()
    return state


def _measure(page, path: str) -> Measured:
    # The stylesheet has loaded by then: the page's deferred scripts wait for it.
    response = page.goto(path, wait_until="domcontentloaded")
    hrefs, too_wide = page.evaluate(MEASURE)
    here = urlsplit(page.url)
    links = [
        link.path + (f"?{link.query}" if link.query else "")
        for link in map(urlsplit, hrefs)
        if (link.scheme, link.netloc) == (here.scheme, here.netloc)
    ]
    return Measured(response.status, _route(here.path), links, too_wide)


def _crawl(page, extra_paths: list[str]) -> Iterator[tuple[str, Measured]]:
    """Measure every page reachable by links from the start page, one per route, then
    `extra_paths`."""
    queue, routes_seen = ["/"], set()
    while queue:
        path = queue.pop(0)
        route = _route(urlsplit(path).path)
        if route in routes_seen or (route not in PAGES and path != "/"):
            continue
        measured = _measure(page, path)
        routes_seen |= {route, measured.route}
        queue.extend(measured.links)
        yield path, measured
    for path in extra_paths:
        yield path, _measure(page, path)


@pytest.fixture
def cheap_passwords(settings):
    """Demo passwords hashed cheaply, before the world is seeded: a sign-in (and each seeded
    user) costs 0.3 s of hashing else."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_no_page_is_wider_than_a_phone_in_any_language_for_any_user(
    browser, live_server, cheap_passwords, live_demo_world
):
    extra_paths = world_in_use()
    too_wide, pages_shown = [], set()
    for kind, username in USERS.items():
        session = _signed_in(browser, live_server.url, username)
        paths = None
        for language, _name in settings.LANGUAGES:
            context = browser.new_context(
                base_url=live_server.url, locale=language, viewport=PHONE, storage_state=session
            )
            page = context.new_page()
            if paths is None:  # found once: the same links in every language
                measurements = list(_crawl(page, extra_paths[kind]))
                paths = [path for path, _measured in measurements]
            else:
                measurements = [(path, _measure(page, path)) for path in paths]
            for path, measured in measurements:
                if measured.status in (200, 403):  # 403: a page saying the user may not see it
                    pages_shown.add(measured.route)
                if measured.too_wide:
                    too_wide.append(f"{language} {kind} {path}: {measured.too_wide}")
            assert page.evaluate("document.documentElement.lang") == language
            context.close()
    assert not too_wide, "wider than a 360 px phone:\n" + "\n".join(too_wide)
    assert PAGES - pages_shown == set(), "pages no user was shown"


def test_the_menu_button_opens_the_navigation_on_a_phone_without_javascript(
    new_page, live_demo_world
):
    phone = new_page(javascript=False)
    phone.set_viewport_size(PHONE)
    sign_in_on(phone, "adminagent")
    customers = phone.get_by_role("link", name="Customers", exact=True)
    expect(customers).to_be_hidden()
    expect(phone.get_by_role("button", name="Sign out")).to_be_hidden()

    phone.get_by_text("Menu", exact=True).click()
    expect(phone.get_by_role("button", name="Sign out")).to_be_visible()
    customers.click()
    expect(phone.get_by_role("heading", name="Customers")).to_be_visible()
    expect(phone.get_by_role("link", name="Customers", exact=True)).to_be_hidden()  # closed again


def test_a_desktop_shows_the_navigation_without_a_menu_button(new_page, live_demo_world):
    desktop = new_page()
    desktop.set_viewport_size(DESKTOP)
    sign_in_on(desktop, "adminagent")
    expect(desktop.get_by_role("link", name="Customers", exact=True)).to_be_visible()
    expect(desktop.get_by_role("button", name="Sign out")).to_be_visible()
    expect(desktop.get_by_text("Menu", exact=True)).to_be_hidden()
