"""The partner's support profile: who sees and edits it, validation, what customers see."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from partnercenter import services
from partnercenter.models import Partner
from partnercenter.phones import normalise_phone

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


VALID = {
    "support_email": "care@contoso-distribution.example",
    "support_phone": "+44 20 7946 0321",
    "support_website": "https://care.contoso-distribution.example/help",
    "support_hours": "Mon–Fri 07:00–19:00 CET",
    "notification_language": "en",
}


def save(client, **overrides):
    return client.post(reverse("partnercenter:support_profile_update"), {**VALID, **overrides})


def contoso():
    return Partner.objects.get(name="Contoso Distribution")


def test_an_admin_agent_saves_the_profile_and_the_phone_is_stored_in_e164(client, demo_user):
    client.force_login(demo_user("adminagent"))
    response = save(client)
    assert response.status_code == 302
    assert response.url == reverse("partnercenter:support_profile")
    partner = contoso()
    assert partner.support_email == VALID["support_email"]
    assert partner.support_phone == "+442079460321"
    assert partner.support_website == VALID["support_website"]
    assert partner.support_hours == VALID["support_hours"]
    page = client.get(response.url).content.decode()
    assert "The support profile was saved" in page
    assert 'href="tel:+442079460321">+44 20 7946 0321</a>' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("support_phone", "425 555 0100", "in international form"),
        ("support_phone", "+1 555", "in international form"),
        ("support_phone", "call us", "in international form"),
        ("support_website", "http://care.contoso-distribution.example", "starts with https://"),
        ("support_website", "ftp://files.example", "starts with https://"),
        ("support_website", "https://", "Enter a valid URL"),
        ("support_email", "care-at-contoso", "Enter a valid email address"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    client, demo_user, field, value, message
):
    before = Partner.objects.values().get(pk=contoso().pk)
    client.force_login(demo_user("globaladmin"))
    response = save(client, **{field: value})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert message in response.content.decode()
    assert Partner.objects.values().get(pk=contoso().pk) == before


def test_a_website_without_a_scheme_becomes_https(client, demo_user):
    client.force_login(demo_user("adminagent"))
    save(client, support_website="support.contoso-distribution.example")
    assert contoso().support_website == "https://support.contoso-distribution.example"


def test_phone_numbers_are_normalised():
    assert normalise_phone("+1 (425) 555-0100") == "+14255550100"
    assert normalise_phone("0031 20 555 0142") == "+31205550142"
    with pytest.raises(ValidationError):
        normalise_phone("020 555 0142")


def test_the_model_refuses_a_phone_or_website_that_bypasses_the_form(demo_user):
    with pytest.raises(ValidationError) as error:
        services.support_profile_update(
            partner=contoso(),
            by=demo_user("globaladmin"),
            support_email="",
            support_phone="425-555-0100",
            support_website="http://insecure.example",
            support_hours="",
        )
    assert set(error.value.message_dict) == {"support_phone", "support_website"}
    assert contoso().support_phone == "+14255550100"


def test_a_user_management_admin_sees_the_profile_but_cannot_edit_it(client, demo_user):
    client.force_login(demo_user("usermgmtadmin"))
    page = client.get(reverse("partnercenter:support_profile")).content.decode()
    assert "support@contoso-distribution.example" in page
    assert "You can see the support profile but not change it" in page
    assert 'action="/support-profile/update/"' not in page
    assert save(client).status_code == 403
    assert contoso().support_email == "support@contoso-distribution.example"


@pytest.mark.parametrize("username", ["helpdeskagent", "salesagent", "adatumadmin"])
def test_others_may_not_open_the_support_profile(client, demo_user, username):
    client.force_login(demo_user(username))
    assert client.get(reverse("partnercenter:support_profile")).status_code == 403
    assert save(client).status_code == 403


def test_each_partner_edits_only_its_own_profile(client, demo_user):
    client.force_login(demo_user("fabrikam"))
    save(client)
    assert Partner.objects.get(name="Fabrikam Solutions").support_email == VALID["support_email"]
    assert contoso().support_email == "support@contoso-distribution.example"


def test_the_customers_support_page_shows_exactly_the_saved_profile(
    client, demo_user, premium, partner_named
):
    client.force_login(demo_user("adminagent"))
    save(client)
    client.force_login(demo_user("adatumadmin"))
    page = client.get(reverse("customers:customer_support")).content.decode()
    assert 'href="mailto:care@contoso-distribution.example"' in page
    assert 'href="tel:+442079460321">+44 20 7946 0321</a>' in page
    assert 'href="https://care.contoso-distribution.example/help"' in page
    assert "Mon–Fri 07:00–19:00 CET" in page
