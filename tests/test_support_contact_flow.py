"""The designated support contact flow through its pages, with every kind of bad input."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Subscription, SupportContactChange
from customers.services import support_contact_assign
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


def contoso_changes():
    """The history of Contoso's subscriptions (the demo world's Proseware one has its own)."""
    return SupportContactChange.objects.filter(subscription__provider__name="Contoso Distribution")


def page_url(subscription):
    return reverse(
        "customers:subscription_detail", args=[subscription.customer_id, subscription.pk]
    )


def post_url(subscription):
    return reverse(
        "customers:subscription_support_contact", args=[subscription.customer_id, subscription.pk]
    )


def signed_in(client, demo_user, username):
    client.force_login(demo_user(username))
    return client


def options_of(html: str) -> list[str]:
    select = re.search(r'<select name="contact".*?</select>', html, re.S).group(0)
    return re.findall(r">([^<]+)</option>", select)


def test_the_select_lists_exactly_the_eligible_partners_with_the_current_one_selected(
    client, demo_user, premium
):
    html = signed_in(client, demo_user, "adminagent").get(page_url(premium)).content.decode()
    assert options_of(html) == ["Contoso Distribution (current)", "Fabrikam Solutions"]
    assert re.search(
        r'<option value="\d+" selected>Contoso Distribution \(current\)</option>', html
    )
    assert "Northwind Traders IT</strong>: no delegated admin privileges" in html
    assert "Trey Research" not in html  # a reseller of Contoso, but not tied to Adatum
    assert html.count(">Request a relationship</a>") == 1


def test_why_is_a_reseller_not_listed_finds_any_reseller_of_the_provider_and_explains_it(
    client, demo_user, premium, partner_named
):
    trey = partner_named("Trey Research")
    agent = signed_in(client, demo_user, "adminagent")
    for query in ("trey", trey.partner_id):
        html = agent.get(page_url(premium), {"why": query}).content.decode()
        assert f"Trey Research</strong> ({trey.partner_id}):" in html
        assert "no relationship with this customer" in html
        new_request = reverse("customers:relationship_request_new", args=[premium.customer_id])
        assert f'href="{new_request}?partner={trey.pk}&amp;dap=1"' in html

    partial = agent.get(
        page_url(premium),
        {"why": "fabrikam"},
        headers={"HX-Request": "true", "HX-Target": "why-section"},
    ).content.decode()
    assert partial.startswith('<div id="why-section"') or partial.lstrip().startswith(
        '<div id="why-section"'
    )
    assert "Fabrikam Solutions</strong>" in partial
    assert "eligible, so it is in the list above." in partial
    assert "<select" not in partial  # the answer alone

    nobody = agent.get(page_url(premium), {"why": "Proseware"}).content.decode()
    assert "No reseller of Contoso Distribution matches “Proseware”." in nobody
    too_long = agent.get(page_url(premium), {"why": "x" * 101}).content.decode()
    assert "Ensure this value has at most 100 characters" in too_long


def submit(client, subscription, contact, **extra):
    data = {"contact": contact.pk, "version": subscription.version}
    data.update(extra)
    return client.post(post_url(subscription), data)


def test_submit_changes_the_contact_records_history_and_redirects_to_the_review(
    client, demo_user, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    response = submit(signed_in(client, demo_user, "adminagent"), premium, fabrikam)

    change = contoso_changes().get()
    assert response.status_code == 302
    assert response.url == reverse(
        "customers:support_contact_change", args=[premium.customer_id, premium.pk, change.pk]
    )
    premium.refresh_from_db()
    assert premium.support_contact == fabrikam
    assert premium.version == 2
    assert (change.from_contact.name, change.to_contact, change.through) == (
        "Contoso Distribution",
        fabrikam,
        "form",
    )
    assert change.changed_by == demo_user("adminagent")

    review = client.get(response.url).content.decode()
    assert "Designated support contact changed" in review
    assert "Fabrikam Solutions" in review
    assert "Aaron Patel" in review
    assert ">Close</a>" in review
    assert f'href="{reverse("customers:customer_detail", args=[premium.customer_id])}"' in review


def test_an_htmx_submit_answers_with_the_review_section_and_the_new_history(
    client, demo_user, premium, partner_named
):
    signed_in(client, demo_user, "helpdeskagent")
    response = client.post(
        post_url(premium),
        {"contact": partner_named("Fabrikam Solutions").pk, "version": 1},
        headers={"HX-Request": "true", "HX-Target": "contact-section"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="contact-section"')
    assert "<html" not in html
    assert ">Close</a>" in html
    assert 'id="history-section"' in html
    assert 'hx-swap-oob="true"' in html
    assert contoso_changes().count() == 1


def test_the_history_lists_changes_newest_first(client, demo_user, premium, partner_named):
    fabrikam, contoso = partner_named("Fabrikam Solutions"), partner_named("Contoso Distribution")
    agent = demo_user("adminagent")
    support_contact_assign(subscription=premium, contact=fabrikam, by=agent, expected_version=1)
    support_contact_assign(subscription=premium, contact=contoso, by=agent, expected_version=2)
    html = signed_in(client, demo_user, "salesagent").get(page_url(premium)).content.decode()
    history = html[html.index('id="history-section"') :]
    rows = re.findall(r"<tr>\s*<td><time.*?</tr>", history, re.S)
    assert len(rows) == 2
    assert (
        '<td data-label="From">Fabrikam Solutions</td>\n'
        '        <td data-label="To">Contoso Distribution</td>' in rows[0]
    )


def test_a_stale_form_changes_nothing_and_says_who_changed_it_to_what(
    client, demo_user, premium, partner_named
):
    fabrikam, contoso = partner_named("Fabrikam Solutions"), partner_named("Contoso Distribution")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("helpdeskagent"), expected_version=1
    )
    # adminagent loaded the page at version 1 and now picks Contoso Distribution.
    response = signed_in(client, demo_user, "adminagent").post(
        post_url(premium), {"contact": contoso.pk, "version": 1}, follow=True
    )
    html = response.content.decode()
    assert "Hanna Kovács changed the designated support contact to Fabrikam Solutions" in html
    assert re.search(r'<option value="\d+" selected>Fabrikam Solutions \(current\)</option>', html)
    premium.refresh_from_db()
    assert premium.support_contact == fabrikam
    assert contoso_changes().count() == 1


def _refused(client, subscription, data, expected_message, status=200):
    before = Subscription.objects.get(pk=subscription.pk)
    response = client.post(post_url(subscription), data, follow=True)
    assert response.status_code == status
    if expected_message:
        assert expected_message in response.content.decode()
    after = Subscription.objects.get(pk=subscription.pk)
    assert (after.support_contact_id, after.version) == (before.support_contact_id, before.version)
    assert not contoso_changes().exists()


def test_a_forged_contact_id_changes_nothing(client, demo_user, premium):
    _refused(
        signed_in(client, demo_user, "adminagent"),
        premium,
        {"contact": 999999, "version": 1},
        "That partner does not exist or cannot be chosen",
    )


def test_an_ineligible_reseller_changes_nothing_and_says_why(
    client, demo_user, premium, partner_named
):
    _refused(
        signed_in(client, demo_user, "adminagent"),
        premium,
        {"contact": partner_named("Northwind Traders IT").pk, "version": 1},
        "Northwind Traders IT cannot be the designated support contact: no delegated admin",
    )


def test_a_customer_cannot_be_its_own_support_contact(client, demo_user, premium):
    stranger = factories.ProviderFactory(name="Unrelated Provider")
    _refused(
        signed_in(client, demo_user, "adminagent"),
        premium,
        {"contact": stranger.pk, "version": 1},
        "cannot be the designated support contact of this subscription",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1}, "Choose a designated support contact."),
        ({"contact": "", "version": 1}, "Choose a designated support contact."),
        ({"contact": "fabrikam", "version": 1}, "That partner does not exist"),
        ({"contact": 1}, "The form is incomplete"),
        ({"contact": 1, "version": "x"}, "The form is incomplete"),
        ({"contact": 1, "version": 0}, "The form is incomplete"),
    ],
)
def test_a_missing_or_malformed_field_changes_nothing(client, demo_user, premium, data, message):
    _refused(signed_in(client, demo_user, "adminagent"), premium, data, message)


def test_a_post_without_csrf_token_is_refused(demo_user, premium, partner_named):
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo_user("adminagent"))
    _refused(
        client, premium, {"contact": partner_named("Fabrikam Solutions").pk, "version": 1}, "", 403
    )


def test_new_commerce_subscriptions_offer_no_field_and_refuse_a_change(
    client, demo_user, adatum, partner_named
):
    basic = adatum.subscriptions.get(commerce_type="new_commerce")
    signed_in(client, demo_user, "adminagent")
    html = client.get(page_url(basic)).content.decode()
    assert 'name="contact"' not in html
    assert "New-commerce subscriptions do not support a designated support contact" in html
    _refused(
        client,
        basic,
        {"contact": partner_named("Fabrikam Solutions").pk, "version": 1},
        "do not support a designated support contact",
    )


def test_choosing_the_current_contact_again_records_nothing(
    client, demo_user, premium, partner_named
):
    response = signed_in(client, demo_user, "adminagent").post(
        post_url(premium),
        {"contact": partner_named("Contoso Distribution").pk, "version": 1},
        follow=True,
    )
    assert "already is the designated support contact" in response.content.decode()
    assert not contoso_changes().exists()


def test_the_sales_agent_sees_the_contact_but_no_submit(client, demo_user, premium, partner_named):
    signed_in(client, demo_user, "salesagent")
    html = client.get(page_url(premium)).content.decode()
    assert "Contoso Distribution" in html
    assert ">Submit</button>" not in html
    assert 'name="contact"' not in html
    _refused(
        client, premium, {"contact": partner_named("Fabrikam Solutions").pk, "version": 1}, "", 403
    )


def test_reseller_staff_see_their_designated_subscriptions_read_only(
    client, demo_user, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    signed_in(client, demo_user, "fabrikam")
    assert client.get(page_url(premium)).status_code == 404  # not its contact yet
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    html = client.get(page_url(premium)).content.decode()
    assert ">Submit</button>" not in html
    assert "Fabrikam Solutions" in html
    customer_page = client.get(reverse("customers:customer_detail", args=[premium.customer_id]))
    assert "Office 365 Business Premium" in customer_page.content.decode()
    assert "Microsoft 365 E3" not in customer_page.content.decode()
    response = client.post(
        post_url(premium), {"contact": partner_named("Contoso Distribution").pk, "version": 2}
    )
    assert response.status_code == 404  # it may read, never assign
    premium.refresh_from_db()
    assert premium.support_contact == fabrikam


def test_another_partners_customer_and_subscription_answer_404(client, demo_user, premium):
    other = factories.SubscriptionFactory()
    factories.CustomerRelationshipFactory(partner=other.provider, customer=other.customer)
    signed_in(client, demo_user, "globaladmin")
    assert (
        client.get(reverse("customers:customer_detail", args=[other.customer_id])).status_code
        == 404
    )
    assert client.get(page_url(other)).status_code == 404
    assert (
        client.post(post_url(other), {"contact": other.provider_id, "version": 1}).status_code
        == 404
    )
    # a real subscription under the wrong customer id
    wrong = reverse("customers:subscription_detail", args=[other.customer_id, premium.pk])
    assert client.get(wrong).status_code == 404


def test_unknown_ids_answer_404(client, demo_user, premium):
    signed_in(client, demo_user, "adminagent")
    assert client.get(reverse("customers:customer_detail", args=[987654])).status_code == 404
    assert (
        client.get(
            reverse("customers:subscription_detail", args=[premium.customer_id, 987654])
        ).status_code
        == 404
    )
    assert (
        client.get(
            reverse(
                "customers:support_contact_change", args=[premium.customer_id, premium.pk, 987654]
            )
        ).status_code
        == 404
    )


def test_the_customer_page_lists_subscriptions_with_their_contacts(client, demo_user, adatum):
    html = (
        signed_in(client, demo_user, "helpdeskagent")
        .get(reverse("customers:customer_detail", args=[adatum.pk]))
        .content.decode()
    )
    for heading in ("Offer", "Nickname", "Quantity", "Status", "Billing cycle"):
        assert f">{heading}</th>" in html
    assert "Office 365 Business Premium" in html
    assert "Microsoft 365 E3" in html
    assert "Not supported (new commerce)" in html


def test_the_customer_support_page_shows_the_designated_partners_support_details(
    client, demo_user, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    html = (
        signed_in(client, demo_user, "adatumadmin")
        .get(reverse("customers:customer_support"))
        .content
    )
    html = html.decode()
    assert '<a href="mailto:help@fabrikam.example">help@fabrikam.example</a>' in html
    assert '<a href="tel:+31205550142">' in html
    assert "https://help.fabrikam.example" in html
    assert "Mon–Fri 08:00–18:00 CET" in html
    assert "support@contoso-distribution.example" in html  # the other subscriptions


def test_a_customer_admin_sees_nothing_of_other_customers_or_partner_pages(
    client, demo_user, premium
):
    other = factories.SubscriptionFactory(offer_name="Someone Else's Plan")
    signed_in(client, demo_user, "adatumadmin")
    assert "Someone Else" not in client.get(reverse("customers:customer_support")).content.decode()
    assert client.get(reverse("customers:customer_list")).status_code == 403
    assert client.get(page_url(premium)).status_code == 403
    assert client.get(page_url(other)).status_code == 403


def test_a_reseller_sees_only_the_history_entries_that_name_it(
    client, demo_user, premium, partner_named
):
    """Finding 4: the subscription page's history is scoped like the History page."""
    agent = demo_user("adminagent")
    northwind = partner_named("Northwind Traders IT")
    northwind.customer_relationships.filter(customer=premium.customer).update(delegated_admin=True)
    first = support_contact_assign(
        subscription=premium, contact=northwind, by=agent, expected_version=1
    )
    second = support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=agent,
        expected_version=2,
    )
    signed_in(client, demo_user, "fabrikam")
    html = client.get(page_url(premium)).content.decode()
    history = html[html.index('id="history-section"') :]
    assert history.count("<tr>") == 2  # the header and the one change that names Fabrikam
    change_url = "customers:support_contact_change"
    args = [premium.customer_id, premium.pk]
    assert client.get(reverse(change_url, args=[*args, second.pk])).status_code == 200
    assert client.get(reverse(change_url, args=[*args, first.pk])).status_code == 404


def test_an_htmx_request_for_the_whole_page_has_each_section_once(client, demo_user, premium):
    signed_in(client, demo_user, "adminagent")
    html = client.get(page_url(premium), HTTP_HX_REQUEST="true").content.decode()
    assert html.count('id="history-section"') == 1
    assert "hx-swap-oob" not in html


HTMX_CONTACT = {"HX-Request": "true", "HX-Target": "contact-section"}


def test_a_submit_reads_eligibility_once_on_the_rows_it_locks(
    client, demo_user, premium, partner_named
):
    """The service decides on the partnership and the relationship it locks; the form and the
    review that answers need no list of who is eligible, so nothing reads it again."""
    signed_in(client, demo_user, "adminagent")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            post_url(premium),
            {"contact": partner_named("Fabrikam Solutions").pk, "version": 1},
            headers=HTMX_CONTACT,
        )
    assert ">Close</a>" in response.content.decode()
    eligibility_reads = [
        q["sql"]
        for q in queries.captured_queries
        if '"relationships_resellerpartnership"' in q["sql"] or '"delegated_admin"' in q["sql"]
    ]
    assert len(eligibility_reads) == 2, eligibility_reads  # the partnership, the relationship
    if connection.features.has_select_for_update:
        assert all(" FOR UPDATE OF " in sql for sql in eligibility_reads), eligibility_reads


def test_a_refused_htmx_submit_shows_the_form_again_with_the_eligible_partners(
    client, demo_user, premium, partner_named
):
    response = signed_in(client, demo_user, "adminagent").post(
        post_url(premium),
        {"contact": partner_named("Northwind Traders IT").pk, "version": 1},
        headers=HTMX_CONTACT,
    )
    html = response.content.decode()
    assert "cannot be the designated support contact: no delegated admin" in html
    assert options_of(html) == ["Contoso Distribution (current)", "Fabrikam Solutions"]
    assert "Northwind Traders IT</strong>: no delegated admin privileges" in html
    assert not contoso_changes().exists()


def test_the_review_page_shows_the_change_and_the_history_but_no_form(
    client, demo_user, premium, partner_named
):
    change = support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=demo_user("helpdeskagent"),
        expected_version=1,
    )
    html = (
        signed_in(client, demo_user, "adminagent")
        .get(
            reverse(
                "customers:support_contact_change",
                args=[premium.customer_id, premium.pk, change.pk],
            )
        )
        .content.decode()
    )
    assert "Designated support contact changed" in html
    assert '<select name="contact"' not in html
    history = html[html.index('id="history-section"') :]
    assert len(re.findall(r"<tr>\s*<td><time", history)) == 1
    assert '<td data-label="Through">Subscription page</td>' in history
