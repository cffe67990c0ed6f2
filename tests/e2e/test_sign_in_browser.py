"""Signing in and out in a real browser."""

from playwright.sync_api import expect


def test_staff_sign_in_lands_on_the_dashboard_and_sign_out_returns_to_sign_in(
    page, live_demo_world, sign_in
):
    sign_in("adminagent")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Contoso Distribution").first).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Dashboard")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_customer_admin_lands_in_their_admin_area(page, live_demo_world, sign_in):
    sign_in("adatumadmin")
    expect(page.get_by_role("heading", name="Admin", exact=True)).to_be_visible()
    expect(page.get_by_text("Adatum Corporation").first).to_be_visible()
    expect(page.get_by_role("cell", name="Office 365 Business Premium")).to_be_visible()


def test_a_wrong_password_shows_a_message_and_stays_signed_out(page, live_demo_world, sign_in):
    sign_in("adminagent", password="wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
