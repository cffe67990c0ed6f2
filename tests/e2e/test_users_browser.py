"""User management in Chromium: a new helpdesk agent, from invitation to first assignment."""

import re
from base64 import b32decode

from django.core import mail
from django.db.models import F
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_on

NEW_PASSWORD = "helpdesk-first-day-2026"


def test_a_new_helpdesk_agent_is_added_sets_a_password_and_assigns_a_support_contact(
    new_page, live_demo_world
):
    admin = new_page()
    sign_in_on(admin, "usermgmtadmin")
    admin.get_by_role("link", name="Users", exact=True).click()
    expect(admin.get_by_role("heading", name="Users")).to_be_visible()
    admin.get_by_role("link", name="Add a user").click()
    admin.get_by_label("Username").fill("nina.berg")
    admin.get_by_label("First name").fill("Nina")
    admin.get_by_label("Last name").fill("Berg")
    admin.get_by_label("Email").fill("nina.berg@contoso-distribution.example")
    expect(admin.get_by_label("Global admin")).to_be_disabled()
    admin.get_by_label("Helpdesk agent").check()
    admin.get_by_role("button", name="Add user").click()

    expect(admin.locator("ul.messages")).to_contain_text(
        "Nina Berg was added. A link to set a password was sent to "
        "nina.berg@contoso-distribution.example."
    )
    expect(admin.get_by_role("heading", name="Nina Berg")).to_be_visible()
    expect(admin.get_by_label("Helpdesk agent")).to_be_checked()

    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/set-password/\S+/", mail.outbox[0].body).group(0)

    agent = new_page()
    agent.goto(link)
    expect(agent.get_by_role("heading", name="Set your password")).to_be_visible()
    agent.get_by_label("New password", exact=True).fill("short")
    agent.get_by_label("New password confirmation").fill("short")
    agent.get_by_role("button", name="Set password").click()
    expect(agent.get_by_text("This password is too short")).to_be_visible()
    agent.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    agent.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    agent.get_by_role("button", name="Set password").click()
    expect(agent.get_by_role("heading", name="Password set")).to_be_visible()
    agent.get_by_role("link", name="Sign in").click()

    agent.get_by_label("Username").fill("nina.berg")
    agent.get_by_label("Password").fill(NEW_PASSWORD)
    agent.get_by_role("button", name="Sign in").click()
    expect(agent.get_by_role("heading", name="Dashboard")).to_be_visible()

    agent.get_by_role("link", name="Customers", exact=True).click()
    agent.get_by_label("Search customers").fill("Adatum")
    agent.get_by_label("Search customers").press("Enter")
    agent.get_by_role("link", name="Adatum Corporation").click()
    agent.get_by_role("link", name="Office 365 Business Premium").click()
    agent.get_by_label("Designated support contact").select_option(label="Fabrikam Solutions")
    agent.get_by_role("button", name="Submit").click()
    expect(agent.get_by_role("heading", name="Designated support contact changed")).to_be_visible()
    expect(agent.get_by_text("Nina Berg").first).to_be_visible()

    agent.get_by_role("link", name="History", exact=True).click()
    row = agent.get_by_role("row").filter(has_text="Office 365 Business Premium")
    expect(row).to_contain_text("Fabrikam Solutions")
    expect(row).to_contain_text("Nina Berg")

    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(admin.get_by_role("row").filter(has_text="nina.berg")).to_contain_text("Active")


def test_an_admin_agent_edits_the_support_profile_and_a_bad_phone_is_refused(
    page, live_demo_world, sign_in
):
    sign_in("adminagent")
    page.get_by_role("link", name="Support profile").click()
    page.get_by_label("Support phone").fill("425 555 0100")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter a valid phone number in international form")).to_be_visible()
    page.get_by_label("Support phone").fill("+44 20 7946 0321")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("ul.messages")).to_contain_text("The support profile was saved")
    preview = page.get_by_role("region", name="What customers see")
    expect(preview.get_by_role("link", name="+44 20 7946 0321")).to_have_attribute(
        "href", "tel:+442079460321"
    )


def test_repeated_wrong_passwords_lock_the_sign_in(page, live_demo_world, sign_in):
    for _ in range(5):
        sign_in("salesagent", password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    sign_in("salesagent")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in is locked for 15 minutes")


def test_a_sales_agent_sets_up_two_step_verification_and_then_signs_in_with_a_code(
    page, live_demo_world, sign_in
):
    sign_in("salesagent")
    page.goto("/access/")
    page.get_by_role("link", name="Two-step verification").click()
    page.get_by_role("link", name="Set up two-step verification").click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert not TOTPDevice.objects.exists()  # looking at the QR code stores nothing

    key = b32decode(page.get_by_role("code").inner_text().replace(" ", ""))
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    assert TOTPDevice.objects.get(user__username="salesagent").confirmed

    page.get_by_role("button", name="Sign out").click()
    sign_in("salesagent")
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    # The code used at set-up is not accepted twice: pretend the app moved on a step.
    TOTPDevice.objects.update(last_t=F("last_t") - 1)
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
