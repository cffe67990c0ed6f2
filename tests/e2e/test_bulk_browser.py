"""Bulk changes in Chromium, with and without JavaScript: from a customer's page, from a
reseller's page, and the undo."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_on


def _submit(page, *, javascript: bool, name: str):
    """Press `name`; with htmx, check the answer swapped in place (an htmx POST, no new page)."""
    if javascript:
        with page.expect_response(
            lambda r: r.request.method == "POST" and r.request.headers.get("hx-request") == "true"
        ) as htmx_post:
            page.get_by_role("button", name=name).click()
        assert htmx_post.value.status == 200
    else:
        page.get_by_role("button", name=name).click()


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_ticked_subscriptions_of_a_customer_change_then_undo(new_page, live_demo_world, javascript):
    page = new_page(javascript=javascript)
    sign_in_on(page, "adminagent")
    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_role("link", name="Adatum Corporation").click()

    page.get_by_label("Tick Office 365 Business Premium").check()
    page.get_by_label("Tick Microsoft 365 E3").check()
    page.get_by_label("Tick Microsoft 365 Business Basic").check()
    page.get_by_label("Designated support contact").select_option(label="Fabrikam Solutions")
    _submit(page, javascript=javascript, name="Review")

    review = page.get_by_role("heading", name="Review the bulk change")
    expect(review).to_be_visible()
    expect(page).to_have_url(re.compile(r"/bulk/\d+/$"))  # pushed by htmx, or redirected
    counts = page.get_by_role("list", name="What Submit would do")
    expect(counts).to_contain_text("2 to change")
    expect(counts).to_contain_text("new commerce: no designated support contact: 1")

    _submit(page, javascript=javascript, name="Submit")
    expect(page.get_by_role("heading", name="Bulk change done")).to_be_visible()
    expect(
        page.locator(".message-success").filter(has_text="2 changed, 0 unchanged, 1 skipped.")
    ).to_be_visible()
    if javascript:  # said once, in the page's live region
        expect(page.locator("#announcer")).to_have_text("2 changed, 0 unchanged, 1 skipped.")
    expect(page.get_by_role("row").filter(has_text="Microsoft 365 E3")).to_contain_text(
        "Contoso Distribution → Fabrikam Solutions"
    )

    if javascript:
        page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    _submit(page, javascript=javascript, name="Undo")
    expect(page.get_by_role("heading", name="Undo done")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Microsoft 365 E3")).to_contain_text(
        "Fabrikam Solutions → Contoso Distribution"
    )

    page.get_by_role("link", name="Close").click()
    expect(page.get_by_role("heading", name="Adatum Corporation")).to_be_visible()
    for offer in ("Office 365 Business Premium", "Microsoft 365 E3"):
        row = page.get_by_role("row").filter(has_text=offer)
        expect(row).to_contain_text("Contoso Distribution")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-javascript"])
def test_a_reseller_is_made_the_contact_wherever_it_is_eligible(
    new_page, live_demo_world, javascript
):
    page = new_page(javascript=javascript)
    sign_in_on(page, "adminagent")
    page.get_by_role("link", name="Indirect resellers").first.click()
    page.get_by_role("link", name="Fabrikam Solutions").click()
    expect(
        page.get_by_role("heading", name="Make Fabrikam Solutions the designated support contact")
    ).to_be_visible()
    page.get_by_label("Customer").fill("adatum")
    _submit(page, javascript=javascript, name="Review")

    expect(page.get_by_role("heading", name="Review the bulk change")).to_be_visible()
    expect(page.get_by_text("Asked on the page of Fabrikam Solutions.")).to_be_visible()
    expect(page.get_by_role("list", name="What Submit would do")).to_contain_text("2 to change")
    _submit(page, javascript=javascript, name="Submit")
    expect(
        page.locator(".message-success").filter(has_text="2 changed, 0 unchanged, 0 skipped.")
    ).to_be_visible()
    if javascript:  # said once, in the page's live region
        expect(page.locator("#announcer")).to_have_text("2 changed, 0 unchanged, 0 skipped.")

    page.get_by_role("link", name="Its changes in History").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Adatum Corporation")).to_have_count(2)
