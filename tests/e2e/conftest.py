"""Browser tests: Playwright driving the system's Chromium against a live server."""

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures
# and assertions here are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"No Chromium at {CHROMIUM} (set CHROMIUM, or install Debian's chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a fresh browser tab with its own cookies: `new_page(javascript=False)`."""
    contexts, csp_violations = [], []

    def open_page(*, javascript: bool = True, locale: str = "en-US"):
        context = browser.new_context(
            base_url=live_server.url, locale=locale, java_script_enabled=javascript
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and csp_violations.append(m.text),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not csp_violations, "the page broke its Content Security Policy"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def live_demo_world(transactional_db):
    """The demo world, committed so that the live server's threads see it."""
    call_command("seed_demo", stdout=io.StringIO())


def sign_in_on(page, username: str, password: str = "partnercenter-demo"):
    """Sign in through the form, as a person does, in whatever language the page is in."""
    page.goto("/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form:has(input[name=password]) button[type=submit]").click()


@pytest.fixture
def sign_in(page):
    return lambda username, password="partnercenter-demo": sign_in_on(page, username, password)
