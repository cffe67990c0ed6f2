"""Relationships end to end in Chromium: a DAP request accepted by the customer, a removal."""

import re

from playwright.sync_api import expect

from customers.models import Subscription
from customers.services import support_contact_assign
from partnercenter.models import Partner, User
from tests.e2e.conftest import sign_in_on


def _open_adatum_relationships(page):
    page.get_by_role("link", name="Customers", exact=True).click()
    page.get_by_role("link", name="Adatum Corporation").click()
    page.get_by_role("link", name="Relationships").click()


def test_a_dap_request_accepted_by_the_customer_makes_northwind_eligible(new_page, live_demo_world):
    staff = new_page()
    staff.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in_on(staff, "adminagent")
    _open_adatum_relationships(staff)
    staff.get_by_role("link", name="Request a relationship").click()
    staff.get_by_label("Relationship for").select_option(label="Northwind Traders IT")
    expect(staff.get_by_label("Include delegated admin privileges")).to_be_checked()
    staff.get_by_role("button", name="Request", exact=True).click()

    link = staff.get_by_label("Invitation link").input_value()
    assert re.search(r"/invitations/[\w-]{40,}/$", link)
    expect(staff.get_by_label("Email text")).to_contain_text(link)
    # The button says "Copied" for two seconds: record its labels, so that a busy machine
    # that looks later than that still sees what the user saw.
    staff.evaluate(
        """() => {
        const button = document.querySelector("[data-copy-target]");
        window.copyLabels = [];
        new MutationObserver(() => window.copyLabels.push(button.textContent))
            .observe(button, {childList: true, characterData: true, subtree: true});
    }"""
    )
    staff.get_by_role("button", name="Copy").click()
    staff.wait_for_function("() => window.copyLabels.includes('Copied')")
    assert link in staff.evaluate("navigator.clipboard.readText()")
    staff.get_by_role("button", name="Done").click()
    expect(staff.get_by_role("region", name="Relationship requests")).to_contain_text("Pending")

    customer = new_page()
    customer.goto(link)  # the invitation link asks for sign-in first
    customer.get_by_label("Username").fill("adatumadmin")
    customer.get_by_label("Password").fill("partnercenter-demo")
    customer.get_by_role("button", name="Sign in").click()
    expect(customer.get_by_role("heading", name="Partner relationships")).to_be_visible()
    customer.get_by_role("button", name="Accept Northwind Traders IT").click()
    expect(customer.locator("ul.messages")).to_contain_text(
        "You now work with Northwind Traders IT"
    )

    staff.get_by_role("link", name="Subscriptions").click()
    staff.get_by_role("link", name="Office 365 Business Premium").click()
    options = staff.get_by_label("Designated support contact").locator("option")
    expect(options).to_have_text(
        ["Contoso Distribution (current)", "Fabrikam Solutions", "Northwind Traders IT"]
    )


def test_fabrikam_ends_its_relationship_and_both_providers_get_their_subscriptions_back(
    page, live_demo_world, sign_in
):
    fabrikam = Partner.objects.get(name="Fabrikam Solutions")
    agent = User.objects.get(username="adminagent")
    for offer in ("Office 365 Business Premium", "Microsoft 365 E3"):
        subscription = Subscription.objects.get(customer__domain="adatum.example", offer_name=offer)
        support_contact_assign(
            subscription=subscription, contact=fabrikam, by=agent, expected_version=1
        )

    # Contoso's staff cannot end a reseller's relationship: there is no link for it.
    sign_in("salesagent")
    _open_adatum_relationships(page)
    expect(page.get_by_role("link", name="Remove Fabrikam Solutions")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    sign_in("fabrikam")
    _open_adatum_relationships(page)
    page.get_by_role("link", name="Remove Fabrikam Solutions").click()
    # Contoso's two, and Proseware's Dynamics subscription: whichever provider bills them.
    expect(page.get_by_text("These 3 subscriptions fall back")).to_be_visible()
    page.get_by_role("button", name="Remove relationship").click()
    expect(page.locator("ul.messages")).to_contain_text("3 subscription(s) fell back")
    page.get_by_role("button", name="Sign out").click()

    sign_in("salesagent")
    _open_adatum_relationships(page)
    page.get_by_role("link", name="Subscriptions").click()
    for offer in ("Office 365 Business Premium", "Microsoft 365 E3"):
        expect(page.get_by_role("row").filter(has_text=offer)).to_contain_text(
            "Contoso Distribution"
        )
    page.get_by_role("link", name="Microsoft 365 E3").click()
    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Relationship ended")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Femke de Vries")
