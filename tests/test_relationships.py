"""Partnerships, relationship requests, acceptance, DAP and removal, through their pages."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.eligibility import contact_options
from customers.models import Subscription, SupportContactChange
from customers.services import support_contact_assign
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    RequestState,
    ResellerPartnership,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


@pytest.fixture
def as_user(client, demo_user):
    def sign_in(username):
        client.logout()
        client.force_login(demo_user(username))
        return client

    return sign_in


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


# Partnerships --------------------------------------------------------------------------------


def test_a_provider_requests_a_partnership_and_the_reseller_accepts(as_user, demo_world):
    newcomer = factories.ResellerFactory(name="Wingtip Resellers", partner_id="7000001")
    staff = factories.StaffUserFactory(partner=newcomer, roles=["admin_agent"])

    response = as_user("salesagent").post(
        reverse("customers:partnership_request"), {"partner_id": "7000001"}, follow=True
    )
    assert "Partnership requested" in messages_of(response)
    partnership = ResellerPartnership.objects.get(reseller=newcomer)
    assert partnership.state == RelationshipState.REQUESTED

    client = as_user("adminagent")
    client.force_login(staff)
    page = client.get(reverse("customers:partnerships")).content.decode()
    assert "Contoso Distribution" in page
    assert ">Accept</button>" in page
    client.post(reverse("relationships:partnership_accept", args=[partnership.pk]))
    partnership.refresh_from_db()
    assert partnership.state == RelationshipState.ACTIVE


def test_the_reseller_can_decline_and_cannot_accept_afterwards(client, demo_world):
    partnership = factories.ResellerPartnershipFactory(state="requested")
    client.force_login(
        factories.StaffUserFactory(partner=partnership.reseller, roles=["admin_agent"])
    )
    client.post(reverse("relationships:partnership_decline", args=[partnership.pk]))
    response = client.post(
        reverse("relationships:partnership_accept", args=[partnership.pk]), follow=True
    )
    assert "no longer open" in messages_of(response)
    partnership.refresh_from_db()
    assert partnership.state == RelationshipState.REMOVED


def test_only_the_reseller_answers_a_partnership_request(client, demo_world):
    partnership = factories.ResellerPartnershipFactory(state="requested")
    client.force_login(
        factories.StaffUserFactory(partner=partnership.provider, roles=["global_admin"])
    )
    assert (
        client.post(reverse("relationships:partnership_accept", args=[partnership.pk])).status_code
        == 404
    )
    other = factories.StaffUserFactory(partner=factories.ResellerFactory(), roles=["admin_agent"])
    client.force_login(other)
    assert (
        client.post(reverse("relationships:partnership_accept", args=[partnership.pk])).status_code
        == 404
    )
    partnership.refresh_from_db()
    assert partnership.state == RelationshipState.REQUESTED


@pytest.mark.parametrize(
    ("partner_id", "message"),
    [
        ("9999999", "No partner has the partner id 9999999."),
        ("4870001", "Contoso Distribution is not an indirect reseller."),
        ("5120042", "A partnership with Fabrikam Solutions already exists (active)."),
        ("abc", "A partner id is 4 to 12 digits."),
        ("", "Enter the reseller&#x27;s partner id."),
    ],
)
def test_bad_partnership_requests_change_nothing(as_user, demo_world, partner_id, message):
    before = ResellerPartnership.objects.count()
    response = as_user("adminagent").post(
        reverse("customers:partnership_request"), {"partner_id": partner_id}
    )
    assert message in response.content.decode()
    assert ResellerPartnership.objects.count() == before


def test_the_resellers_page_counts_customers_and_designated_subscriptions(
    as_user, demo_user, premium, partner_named
):
    support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=demo_user("adminagent"),
        expected_version=1,
    )
    response = as_user("helpdeskagent").get(reverse("customers:partnerships"))
    rows = {p.reseller.name: p for p in response.context["partnerships"]}
    fabrikam = rows["Fabrikam Solutions"]
    expected_customers = CustomerRelationship.objects.filter(
        partner__name="Fabrikam Solutions", state="active"
    ).count()
    assert fabrikam.customer_count == expected_customers
    assert fabrikam.designated_count == 1
    assert rows["Trey Research"].designated_count == 0


def test_removing_a_partnership_lists_and_then_records_the_fall_backs(
    as_user, demo_user, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    partnership = ResellerPartnership.objects.get(
        reseller=fabrikam, provider__name="Contoso Distribution"
    )
    client = as_user("salesagent")
    confirm = client.get(
        reverse("customers:partnership_remove", args=[partnership.pk])
    ).content.decode()
    assert "Adatum Corporation: Office 365 Business Premium" in confirm

    response = client.post(
        reverse("customers:partnership_remove", args=[partnership.pk]), follow=True
    )
    assert "1 subscription(s) fell back" in messages_of(response)
    premium.refresh_from_db()
    assert premium.support_contact.name == "Contoso Distribution"
    change = premium.support_contact_changes.first()
    assert (change.from_contact, change.through, change.changed_by) == (
        fabrikam,
        SupportContactChange.Through.RELATIONSHIP_REMOVAL,
        demo_user("salesagent"),
    )
    assert not contact_options(premium).is_eligible(fabrikam)


# Requests for customer relationships ---------------------------------------------------------


def request_url(customer):
    return reverse("customers:relationship_request_new", args=[customer.pk])


def test_requesting_dap_for_northwind_creates_an_invitation_with_link_and_email(
    as_user, adatum, partner_named
):
    northwind = partner_named("Northwind Traders IT")
    client = as_user("adminagent")
    form = client.get(request_url(adatum), {"partner": northwind.pk, "dap": 1}).content.decode()
    assert re.search(rf'<option value="{northwind.pk}" selected>Northwind Traders IT', form)

    response = client.post(
        request_url(adatum), {"partner": northwind.pk, "include_delegated_admin": "on"}, follow=True
    )
    invitation = RelationshipRequest.objects.get()
    assert invitation.include_delegated_admin
    assert invitation.requested_through.name == "Contoso Distribution"
    lifetime = invitation.expires_at - invitation.created_at
    assert abs(lifetime - timedelta(days=30)) < timedelta(seconds=1)
    html = response.content.decode()
    assert f"/invitations/{invitation.token}/" in html
    assert "Northwind Traders IT would like to start a reseller relationship" in html
    assert "delegated admin privileges" in html
    assert 'data-copy-target="email-draft"' in html
    assert ">Done</button>" in html
    assert "<script>" not in html  # the Copy button's script is a static file


@pytest.mark.parametrize(
    ("partner", "dap", "message"),
    [
        ("Fabrikam Solutions", "on", "Fabrikam Solutions already has a relationship"),
        ("Northwind Traders IT", "", "Northwind Traders IT already has a relationship"),
        ("Contoso Distribution", "on", "Contoso Distribution already has a relationship"),
    ],
)
def test_requesting_what_already_exists_changes_nothing(
    as_user, adatum, partner_named, partner, dap, message
):
    data = {"partner": partner_named(partner).pk}
    if dap:
        data["include_delegated_admin"] = dap
    response = as_user("adminagent").post(request_url(adatum), data)
    assert message in response.content.decode()
    assert not RelationshipRequest.objects.exists()


def test_a_second_request_while_one_is_pending_is_refused(as_user, adatum, partner_named):
    trey = partner_named("Trey Research")
    client = as_user("adminagent")
    client.post(request_url(adatum), {"partner": trey.pk, "include_delegated_admin": "on"})
    response = client.post(request_url(adatum), {"partner": trey.pk})
    assert "A request for Trey Research is already pending" in response.content.decode()
    assert RelationshipRequest.objects.count() == 1


def test_an_expired_request_does_not_block_a_new_one(as_user, adatum, partner_named):
    trey = partner_named("Trey Research")
    old = factories.RelationshipRequestFactory(
        partner=trey,
        customer=adatum,
        requested_through=partner_named("Contoso Distribution"),
        created_at=timezone.now() - timedelta(days=40),
        expires_at=timezone.now() - timedelta(days=10),
    )
    as_user("adminagent").post(request_url(adatum), {"partner": trey.pk})
    old.refresh_from_db()
    assert old.state == RequestState.EXPIRED
    assert RelationshipRequest.objects.filter(state=RequestState.PENDING).count() == 1


def test_a_reseller_without_an_active_partnership_or_a_forged_id_cannot_be_chosen(
    as_user, adatum, partner_named
):
    stranger = factories.ResellerFactory()
    factories.ResellerPartnershipFactory(
        provider=partner_named("Contoso Distribution"), reseller=stranger, state="requested"
    )
    client = as_user("adminagent")
    for forged in (stranger.pk, 987654, "x"):
        response = client.post(request_url(adatum), {"partner": forged})
        assert "That partner cannot be chosen" in response.content.decode()
    assert not RelationshipRequest.objects.exists()


def test_the_not_listed_links_lead_to_the_right_request(as_user, premium, partner_named):
    client = as_user("adminagent")
    url = reverse("customers:subscription_detail", args=[premium.customer_id, premium.pk])
    northwind = partner_named("Northwind Traders IT")
    html = client.get(url).content.decode()
    assert f"relationships/request/?partner={northwind.pk}&amp;dap=1" in html

    client.post(
        request_url(premium.customer), {"partner": northwind.pk, "include_delegated_admin": "on"}
    )
    invitation = RelationshipRequest.objects.get()
    html = client.get(url).content.decode()
    assert f"relationships/requests/{invitation.pk}/" in html
    assert "See the pending request" in html


# The customer's side -------------------------------------------------------------------------


@pytest.fixture
def northwind_dap_request(adatum, partner_named, demo_user):
    return RelationshipRequest.objects.create(
        partner=partner_named("Northwind Traders IT"),
        requested_through=partner_named("Contoso Distribution"),
        customer=adatum,
        include_delegated_admin=True,
        requested_by=demo_user("adminagent"),
    )


def test_the_customer_admin_accepts_and_the_reseller_becomes_eligible(
    as_user, premium, northwind_dap_request
):
    client = as_user("adatumadmin")
    page = client.get(reverse("relationships:customer_partner_relationships")).content.decode()
    assert "Northwind Traders IT</strong>" in page
    assert "with delegated admin privileges" in page
    response = client.post(
        reverse("relationships:invitation_accept", args=[northwind_dap_request.pk]), follow=True
    )
    assert "You now work with Northwind Traders IT." in messages_of(response)
    relationship = CustomerRelationship.objects.get(
        partner=northwind_dap_request.partner, customer=premium.customer, state="active"
    )
    assert relationship.delegated_admin
    northwind_dap_request.refresh_from_db()
    assert northwind_dap_request.state == RequestState.ACCEPTED
    assert contact_options(premium).is_eligible(northwind_dap_request.partner)


def test_the_invitation_link_leads_the_customers_admin_to_the_request(
    as_user, northwind_dap_request
):
    response = as_user("adatumadmin").get(
        reverse("relationships:invitation", args=[northwind_dap_request.token])
    )
    assert response.status_code == 302
    assert response.url == f"/admin/relationships/?request={northwind_dap_request.pk}"


def test_an_invitation_meant_for_another_customer_says_so_and_changes_nothing(
    client, northwind_dap_request
):
    stranger = factories.CustomerAdminFactory()
    client.force_login(stranger)
    response = client.get(reverse("relationships:invitation", args=[northwind_dap_request.token]))
    assert response.status_code == 403
    assert "meant for another organisation" in response.content.decode()
    accept = client.post(
        reverse("relationships:invitation_accept", args=[northwind_dap_request.pk])
    )
    assert accept.status_code == 404
    northwind_dap_request.refresh_from_db()
    assert northwind_dap_request.state == RequestState.PENDING


@pytest.mark.parametrize(
    "token", ["A" * 43, "nope", "%00", "a%00" * 20, "x" * 10_000, "%C2%B2" * 20]
)
def test_an_unknown_or_malformed_invitation_token_is_404(as_user, demo_world, token):
    for username in ("adatumadmin", "adminagent"):
        assert as_user(username).get(f"/invitations/{token}/").status_code == 404


@pytest.mark.parametrize(
    ("state", "expired", "message"),
    [
        ("declined", False, "This invitation was declined; nothing changed."),
        ("accepted", False, "This invitation was already accepted; nothing changed."),
        ("pending", True, "This invitation expired on"),
    ],
)
def test_a_used_declined_or_expired_invitation_cannot_be_accepted(
    as_user, northwind_dap_request, state, expired, message
):
    RelationshipRequest.objects.filter(pk=northwind_dap_request.pk).update(
        state=state,
        **(
            {
                "created_at": timezone.now() - timedelta(days=31),
                "expires_at": timezone.now() - timedelta(days=1),
            }
            if expired
            else {}
        ),
    )
    relationship = CustomerRelationship.objects.get(
        partner=northwind_dap_request.partner, customer=northwind_dap_request.customer
    )
    response = as_user("adatumadmin").post(
        reverse("relationships:invitation_accept", args=[northwind_dap_request.pk]), follow=True
    )
    assert message in messages_of(response)
    relationship.refresh_from_db()
    assert not relationship.delegated_admin


def test_the_customer_admin_can_decline(as_user, northwind_dap_request):
    as_user("adatumadmin").post(
        reverse("relationships:invitation_decline", args=[northwind_dap_request.pk])
    )
    northwind_dap_request.refresh_from_db()
    assert northwind_dap_request.state == RequestState.DECLINED
    assert northwind_dap_request.responded_by.username == "adatumadmin"


def test_removing_dap_makes_the_reseller_ineligible_and_its_subscriptions_fall_back(
    as_user, demo_user, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=premium.customer)
    client = as_user("adatumadmin")
    confirm = client.get(reverse("customers:delegated_admin_remove", args=[relationship.pk]))
    assert "Office 365 Business Premium" in confirm.content.decode()
    client.post(reverse("customers:delegated_admin_remove", args=[relationship.pk]))
    relationship.refresh_from_db()
    premium.refresh_from_db()
    assert not relationship.delegated_admin
    assert premium.support_contact.name == "Contoso Distribution"
    assert premium.support_contact_changes.first().changed_by == demo_user("adatumadmin")


# Removing a customer relationship ------------------------------------------------------------


def test_a_provider_cannot_remove_its_own_relationship_while_subscriptions_are_active(
    as_user, adatum, partner_named
):
    own = CustomerRelationship.objects.get(
        partner=partner_named("Contoso Distribution"), customer=adatum
    )
    client = as_user("adminagent")
    page = client.get(
        reverse("customers:relationship_remove", args=[adatum.pk, own.pk])
    ).content.decode()
    assert "still has 3 active subscription(s) billed through" in page
    response = client.post(
        reverse("customers:relationship_remove", args=[adatum.pk, own.pk]), follow=True
    )
    assert "A provider cannot remove its own relationship" in messages_of(response)
    own.refresh_from_db()
    assert own.state == RelationshipState.ACTIVE


def test_a_provider_can_remove_its_own_relationship_once_nothing_is_active(
    as_user, adatum, partner_named
):
    Subscription.objects.filter(customer=adatum).update(status="expired")
    own = CustomerRelationship.objects.get(
        partner=partner_named("Contoso Distribution"), customer=adatum
    )
    as_user("adminagent").post(reverse("customers:relationship_remove", args=[adatum.pk, own.pk]))
    own.refresh_from_db()
    assert own.state == RelationshipState.REMOVED


def test_the_reseller_ends_its_relationship_and_every_provider_falls_back(
    as_user, demo_user, adatum, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    e3 = adatum.subscriptions.get(offer_name="Microsoft 365 E3")
    for subscription in (premium, e3):
        support_contact_assign(
            subscription=subscription,
            contact=fabrikam,
            by=demo_user("adminagent"),
            expected_version=1,
        )
    # Proseware's Dynamics subscription is designated to Fabrikam too: it falls back as well.
    dynamics = adatum.subscriptions.get(offer_name="Dynamics 365 Business Central Essentials")
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum)
    client = as_user("fabrikam")
    confirm = client.get(
        reverse("customers:relationship_remove", args=[adatum.pk, relationship.pk])
    )
    assert "These 3 subscriptions fall back" in confirm.content.decode()
    response = client.post(
        reverse("customers:relationship_remove", args=[adatum.pk, relationship.pk]), follow=True
    )
    assert "3 subscription(s) fell back" in messages_of(response)
    for subscription in (premium, e3, dynamics):
        subscription.refresh_from_db()
        assert subscription.support_contact == subscription.provider
        change = subscription.support_contact_changes.first()
        assert (change.through, change.changed_by) == (
            "relationship_removal",
            demo_user("fabrikam"),
        )
    assert premium.version == e3.version == 3
    relationship.refresh_from_db()
    assert relationship.state == RelationshipState.REMOVED
    assert not contact_options(premium).is_eligible(fabrikam)


@pytest.mark.parametrize(
    ("username", "reseller"),
    [
        ("salesagent", "Fabrikam Solutions"),  # active partnership
        ("adminagent", "Alpine IT Services"),  # partnership only requested
        ("globaladmin", "Coho Systems"),  # partnership removed
        ("proseware", "Fabrikam Solutions"),  # another provider of the same reseller
    ],
)
def test_a_provider_never_ends_a_resellers_relationship(
    as_user, demo_user, adatum, premium, partner_named, username, reseller
):
    """Finding 1: a relationship ends only by one of its two parties."""
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    relationship = CustomerRelationship.objects.get(partner__name=reseller, customer=adatum)
    url = reverse("customers:relationship_remove", args=[adatum.pk, relationship.pk])
    client = as_user(username)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    relationship.refresh_from_db()
    premium.refresh_from_db()
    assert relationship.state == RelationshipState.ACTIVE
    assert premium.support_contact == fabrikam
    tab = client.get(reverse("customers:customer_relationships", args=[adatum.pk])).content.decode()
    assert f"Remove {reseller}" not in tab


def test_the_customers_admin_ends_a_relationship_and_its_subscriptions_fall_back(
    as_user, demo_user, adatum, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum)
    client = as_user("adatumadmin")
    page = client.get(reverse("relationships:customer_partner_relationships")).content.decode()
    assert "End the relationship with Fabrikam Solutions" in page
    confirm = client.get(reverse("customers:customer_relationship_end", args=[relationship.pk]))
    assert "Office 365 Business Premium" in confirm.content.decode()
    client.post(reverse("customers:customer_relationship_end", args=[relationship.pk]))
    relationship.refresh_from_db()
    premium.refresh_from_db()
    assert relationship.state == RelationshipState.REMOVED
    assert premium.support_contact.name == "Contoso Distribution"
    assert premium.support_contact_changes.first().changed_by == demo_user("adatumadmin")
    again = client.post(
        reverse("customers:customer_relationship_end", args=[relationship.pk]), follow=True
    )
    assert "already removed" in messages_of(again)


def test_the_reseller_gives_up_dap_and_its_subscriptions_fall_back(
    as_user, demo_user, adatum, premium, partner_named
):
    fabrikam = partner_named("Fabrikam Solutions")
    support_contact_assign(
        subscription=premium, contact=fabrikam, by=demo_user("adminagent"), expected_version=1
    )
    relationship = CustomerRelationship.objects.get(partner=fabrikam, customer=adatum)
    client = as_user("fabrikam")
    tab = client.get(reverse("customers:customer_relationships", args=[adatum.pk])).content.decode()
    assert "Give up delegated admin privileges" in tab
    url = reverse("customers:relationship_give_up_dap", args=[adatum.pk, relationship.pk])
    assert "Office 365 Business Premium" in client.get(url).content.decode()
    client.post(url)
    relationship.refresh_from_db()
    premium.refresh_from_db()
    assert (relationship.state, relationship.delegated_admin) == (RelationshipState.ACTIVE, False)
    assert premium.support_contact.name == "Contoso Distribution"
    assert "holds no delegated admin privileges" in messages_of(client.post(url, follow=True))
    # Nobody else gives up a partner's DAP for it.
    assert as_user("adminagent").post(url).status_code == 404


def test_a_reseller_sees_only_its_own_relationship_on_the_relationships_tab(as_user, adatum):
    """Finding 4: a reseller never learns which other partners work with a customer."""
    tab = as_user("fabrikam").get(reverse("customers:customer_relationships", args=[adatum.pk]))
    html = tab.content.decode()
    assert "Fabrikam Solutions" in html
    for other in (
        "Contoso Distribution",
        "Proseware Distribution",
        "Northwind Traders IT",
        "Alpine IT Services",
        "Coho Systems",
    ):
        assert other not in html


def test_a_provider_sees_its_own_and_its_resellers_relationships_only(as_user, adatum):
    html = as_user("proseware").get(reverse("customers:customer_relationships", args=[adatum.pk]))
    html = html.content.decode()
    assert "Proseware Distribution" in html
    assert "Fabrikam Solutions" in html
    for other in ("Contoso Distribution", "Northwind Traders IT", "Alpine IT Services"):
        assert other not in html


def test_another_partners_relationship_cannot_be_removed(client, adatum):
    outsider = factories.StaffUserFactory(roles=["global_admin"])
    relationship = CustomerRelationship.objects.filter(customer=adatum).first()
    client.force_login(outsider)
    url = reverse("customers:relationship_remove", args=[adatum.pk, relationship.pk])
    assert client.post(url).status_code == 404
    relationship.refresh_from_db()
    assert relationship.state == RelationshipState.ACTIVE
