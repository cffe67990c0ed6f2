"""The designated support contact flow in Chromium, with and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_on


def _open_premium(page, *, javascript: bool):
    page.get_by_role("link", name="Customers", exact=True).click()
    search = page.get_by_label("Search customers")
    if javascript:
        expect(page.locator("html")).to_be_visible()
        page.wait_for_load_state("load")
        search.press_sequentially("Adatum", delay=30)
        expect(page.locator(".result-count")).to_have_text("1 customer")
    else:
        search.fill("Adatum")
        search.press("Enter")
    page.get_by_role("link", name="Adatum Corporation").click()
    expect(page.get_by_role("heading", name="Adatum Corporation")).to_be_visible()
    page.get_by_role("link", name="Office 365 Business Premium").click()
    expect(page.get_by_role("heading", name="Office 365 Business Premium")).to_be_visible()


def _options(page) -> list[str]:
    return page.get_by_label("Designated support contact").locator("option").all_inner_texts()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_admin_agent_designates_fabrikam_and_the_customer_admin_sees_it(
    new_page, live_demo_world, javascript
):
    page = new_page(javascript=javascript)
    sign_in_on(page, "adminagent")
    _open_premium(page, javascript=javascript)

    assert _options(page) == ["Contoso Distribution (current)", "Fabrikam Solutions"]
    expect(page.get_by_label("Designated support contact")).to_have_value(re.compile(r"\d+"))
    not_listed = page.get_by_role("list").filter(has_text="Northwind Traders IT")
    expect(not_listed).to_contain_text("no delegated admin privileges")
    expect(not_listed).not_to_contain_text("Trey Research")  # not tied to Adatum

    # Any other reseller of Contoso: found and explained, in place with htmx or as a page.
    page.get_by_label("Why is a reseller not listed?").fill("trey")
    page.get_by_role("button", name="Find").click()
    answer = page.get_by_role("listitem").filter(has_text="Trey Research")
    expect(answer).to_contain_text("no relationship with this customer")
    expect(answer.get_by_role("link", name="Request a relationship")).to_be_visible()

    page.get_by_label("Designated support contact").select_option(label="Fabrikam Solutions")
    if javascript:
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.request.headers.get("hx-request") == "true"
        ) as htmx_post:
            page.get_by_role("button", name="Submit").click()
        assert htmx_post.value.status == 200
    else:
        page.get_by_role("button", name="Submit").click()
        expect(page).to_have_url(re.compile(r"/changes/\d+/$"))

    review = page.get_by_role("heading", name="Designated support contact changed")
    expect(review).to_be_visible()
    expect(review).to_be_focused()  # so the next Tab reaches Close, not the skip link
    if javascript:
        expect(page.locator("#announcer")).to_have_text(
            "Fabrikam Solutions is now the designated support contact of "
            "Office 365 Business Premium."
        )
    expect(page.get_by_text("Aaron Patel").first).to_be_visible()
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text("Fabrikam Solutions")

    page.get_by_role("link", name="Close").click()
    expect(page.get_by_role("heading", name="Adatum Corporation")).to_be_visible()
    assert not page.url.endswith("?")
    row = page.get_by_role("row").filter(has_text="Office 365 Business Premium")
    expect(row).to_contain_text("Fabrikam Solutions")

    customer = new_page(javascript=javascript)
    sign_in_on(customer, "adatumadmin")
    customer.get_by_role("link", name="Admin", exact=True).click()
    customer.get_by_role("link", name="Support", exact=True).click()
    # One card per partner: Fabrikam's now lists the subscription, with its support details.
    card = customer.get_by_role("region", name="Fabrikam Solutions")
    expect(card).to_contain_text("Office 365 Business Premium")
    expect(card.get_by_role("link", name="help@fabrikam.example")).to_have_attribute(
        "href", "mailto:help@fabrikam.example"
    )


def test_the_sales_agent_sees_the_contact_but_gets_no_submit(page, live_demo_world, sign_in):
    sign_in("salesagent")
    _open_premium(page, javascript=True)
    expect(page.get_by_text("Contoso Distribution").first).to_be_visible()
    expect(page.get_by_role("button", name="Submit")).to_have_count(0)
    expect(
        page.get_by_text("You can see the designated support contact but not change it")
    ).to_be_visible()
