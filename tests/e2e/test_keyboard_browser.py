"""The whole flow with the keyboard alone: sign in, find the customer, open the subscription,
choose the contact, Submit, and Close, checking where focus is after each step."""

import re

import pytest
from playwright.sync_api import expect

MAX_TABS = 40  # more presses than this to reach the next control is a defect in itself


def _focused_text(page) -> str:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return (e && (e.innerText || e.value || e.getAttribute('aria-label') || '')).trim(); }"
    )


def _tab_to(page, text: str) -> int:
    """Press Tab until the focused element reads `text`; the number of presses it took."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if _focused_text(page) == text:
            return presses
    raise AssertionError(f"{text!r} not reached in {MAX_TABS} presses of Tab")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_the_flow_by_keyboard_alone_keeps_focus_where_the_user_works(
    new_page, live_demo_world, javascript
):
    page = new_page(javascript=javascript)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/")
    page.get_by_label("Username").focus()
    page.keyboard.type("adminagent")
    page.keyboard.press("Tab")
    page.keyboard.type("partnercenter-demo")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Customers", exact=True)).to_be_visible()

    _tab_to(page, "Customers")
    page.keyboard.press("Enter")
    page.get_by_label("Search customers").focus()
    page.keyboard.type("Adatum")
    page.keyboard.press("Enter")
    # The unfiltered list shows Adatum too: wait for the search's own page (a navigation without
    # JavaScript, a swap with it) so that Tab is not pressed in a page about to go away.
    expect(page).to_have_url(re.compile(r"[?&]q=Adatum(&|$)"))
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling')")
    expect(page.get_by_role("link", name="Adatum Corporation")).to_be_visible()
    _tab_to(page, "Adatum Corporation")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Adatum Corporation")).to_be_visible()
    _tab_to(page, "Office 365 Business Premium")
    page.keyboard.press("Enter")
    select = page.get_by_label("Designated support contact")
    expect(select).to_be_visible()

    select.focus()
    select.select_option(label="Fabrikam Solutions")  # the keyboard's arrows, in one step
    assert _tab_to(page, "Submit") == 1
    page.keyboard.press("Enter")

    review = page.get_by_role("heading", name="Designated support contact changed")
    expect(review).to_be_focused()
    # Done swapping and settling (htmx's classes gone), as a person reads before moving on.
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    assert _tab_to(page, "Close") == 1  # not 15 presses from the skip link
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Adatum Corporation")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Office 365 Business Premium")
    expect(row).to_contain_text("Fabrikam Solutions")
