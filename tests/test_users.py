"""Users and roles: adding staff, the set-password link, roles, deactivation, and refusals."""

import re

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from partnercenter import services
from partnercenter.errors import DomainError
from partnercenter.models import RoleAssignment, User
from partnercenter.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


NEW_PASSWORD = "a-long-and-unusual-passphrase-42"


def signed_in_as(client, user):
    client.force_login(user)
    return client


def add_user(client, **overrides):
    data = {
        "username": "newhelper",
        "first_name": "Nina",
        "last_name": "Berg",
        "email": "nina@contoso-distribution.example",
        "roles": ["helpdesk_agent"],
    }
    data.update(overrides)
    return client.post(reverse("partnercenter:user_add"), data)


def link_in(message) -> str:
    return re.search(r"https?://\S+/accounts/set-password/\S+/", message.body).group(0)


def test_the_users_page_lists_only_the_partners_own_staff(client, demo_user):
    html = signed_in_as(client, demo_user("usermgmtadmin")).get(reverse("partnercenter:user_list"))
    html = html.content.decode()
    for username in ("globaladmin", "adminagent", "helpdeskagent", "salesagent", "usermgmtadmin"):
        assert f'<td data-label="Username">{username}</td>' in html
    assert "fabrikam" not in html
    assert "adatumadmin" not in html


def test_a_user_management_admin_adds_a_user_who_sets_a_password_and_signs_in(
    client, demo_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = add_user(signed_in_as(client, demo_user("usermgmtadmin")))

    user = User.objects.get(username="newhelper")
    assert response.status_code == 302
    assert response.url == reverse("partnercenter:user_detail", args=[user.pk])
    assert user.partner == demo_user("usermgmtadmin").partner
    assert user.roles == {Role.HELPDESK_AGENT}
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["nina@contoso-distribution.example"]
    assert "newhelper" in mail.outbox[0].body
    assert "Umar Haddad" in mail.outbox[0].body

    client.logout()
    link = link_in(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert "Choose a password for newhelper" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your password is set" in done.content.decode()
    signed = client.post(
        reverse("partnercenter:login"),
        {"username": "newhelper", "password": NEW_PASSWORD},
        follow=True,
    )
    assert signed.context["user"].username == "newhelper"
    assert signed.redirect_chain[-1][0] == reverse("dashboard:dashboard")

    client.logout()
    again = client.get(link, follow=True).content.decode()
    assert "This link is not valid" in again


def test_the_set_password_page_applies_the_password_validators(
    client, demo_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        add_user(signed_in_as(client, demo_user("usermgmtadmin")))
    client.logout()
    form_page = client.get(link_in(mail.outbox[0]), follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "password1", "new_password2": "password1"},
    )
    html = response.content.decode()
    assert "This password is too common" in html
    assert "at least 10 characters" in html
    assert not User.objects.get(username="newhelper").has_usable_password()


def test_a_taken_username_is_refused_and_nothing_is_added(
    client, demo_user, django_capture_on_commit_callbacks
):
    before = User.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = add_user(signed_in_as(client, demo_user("usermgmtadmin")), username="adminagent")
    assert response.status_code == 200
    assert "A user with that username already exists" in response.content.decode()
    assert User.objects.count() == before
    assert mail.outbox == []


def test_bad_input_when_adding_a_user_is_reported_field_by_field(client, demo_user):
    response = add_user(
        signed_in_as(client, demo_user("usermgmtadmin")),
        username="bad name!",
        email="not-an-email",
        roles=["emperor"],
    )
    form = response.context["form"]
    assert set(form.errors) == {"username", "email", "roles"}
    assert "“emperor” is not a role" in response.content.decode()
    assert not User.objects.filter(first_name="Nina").exists()


def test_adding_a_user_always_adds_them_to_ones_own_partner(client, demo_user, partner_named):
    fabrikam = partner_named("Fabrikam Solutions")
    add_user(signed_in_as(client, demo_user("usermgmtadmin")), partner=fabrikam.pk)
    assert User.objects.get(username="newhelper").partner.name == "Contoso Distribution"


def test_a_user_management_admin_cannot_grant_the_global_admin_role(client, demo_user):
    client = signed_in_as(client, demo_user("usermgmtadmin"))
    response = add_user(client, roles=["global_admin"])
    assert "Only a global admin may grant or remove the global admin role" in (
        response.content.decode()
    )
    assert not User.objects.filter(username="newhelper").exists()

    agent = demo_user("helpdeskagent")
    response = client.post(
        reverse("partnercenter:user_roles", args=[agent.pk]), {"roles": ["global_admin"]}
    )
    assert "Only a global admin may grant" in response.content.decode()
    assert User.objects.get(pk=agent.pk).roles == {Role.HELPDESK_AGENT}


def test_the_global_admin_checkbox_is_disabled_for_a_user_management_admin(client, demo_user):
    page = signed_in_as(client, demo_user("usermgmtadmin")).get(reverse("partnercenter:user_add"))
    html = page.content.decode()
    assert re.search(r'<input[^>]*value="global_admin"[^>]*disabled', html)
    assert not re.search(r'<input[^>]*value="admin_agent"[^>]*disabled', html)


def test_roles_can_be_changed(client, demo_user):
    agent = demo_user("helpdeskagent")
    response = signed_in_as(client, demo_user("usermgmtadmin")).post(
        reverse("partnercenter:user_roles", args=[agent.pk]),
        {"roles": ["sales_agent", "admin_agent"]},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=agent.pk).roles == {Role.SALES_AGENT, Role.ADMIN_AGENT}
    page = client.get(response.url).content.decode()
    assert "The roles of Hanna Kovács were saved" in page


def test_a_user_management_admin_keeps_a_global_admins_global_admin_role(client, demo_user):
    admin = demo_user("globaladmin")
    signed_in_as(client, demo_user("usermgmtadmin")).post(
        reverse("partnercenter:user_roles", args=[admin.pk]), {"roles": ["sales_agent"]}
    )
    # The disabled checkbox is not submitted: the role stays, the other one is added.
    assert User.objects.get(pk=admin.pk).roles == {Role.GLOBAL_ADMIN, Role.SALES_AGENT}


@pytest.mark.parametrize(
    ("name", "method", "data"),
    [
        ("partnercenter:user_detail", "get", None),
        ("partnercenter:user_roles", "post", {"roles": ["admin_agent", "global_admin"]}),
        ("partnercenter:user_deactivate", "post", {}),
        ("partnercenter:user_reactivate", "post", {}),
        ("partnercenter:user_set_password_link", "post", {}),
        ("partnercenter:user_two_step_reset", "post", {}),
    ],
)
def test_a_user_of_another_partner_is_not_found_and_not_changed(
    client, demo_user, django_capture_on_commit_callbacks, name, method, data
):
    other = demo_user("fabrikam")
    client = signed_in_as(client, demo_user("usermgmtadmin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(client, method)(reverse(name, args=[other.pk]), data)
    assert response.status_code == 404
    other = User.objects.get(pk=other.pk)
    assert other.roles == {Role.ADMIN_AGENT}
    assert other.is_active
    assert mail.outbox == []


def test_the_global_admin_of_another_partner_cannot_grant_roles_here(client, demo_user):
    fabrikam_admin = factories.StaffUserFactory(
        partner=demo_user("fabrikam").partner, roles=[Role.GLOBAL_ADMIN]
    )
    agent = demo_user("helpdeskagent")
    response = signed_in_as(client, fabrikam_admin).post(
        reverse("partnercenter:user_roles", args=[agent.pk]), {"roles": ["global_admin"]}
    )
    assert response.status_code == 404
    with pytest.raises(DomainError, match="may not manage the users"):
        services.user_roles_set(user=agent, roles=["global_admin"], by=fabrikam_admin)
    assert User.objects.get(pk=agent.pk).roles == {Role.HELPDESK_AGENT}


def test_removing_the_last_global_admins_role_is_refused(demo_user):
    admin = demo_user("globaladmin")
    with pytest.raises(DomainError) as refused:
        services.user_roles_set(user=admin, roles=["admin_agent"], by=demo_user("usermgmtadmin"))
    assert refused.value.message == (
        "Grace Lindqvist is the last active global admin of Contoso Distribution. A partner "
        "must always keep at least one: make someone else a global admin first."
    )
    assert User.objects.get(pk=admin.pk).roles == {Role.GLOBAL_ADMIN}


def test_with_a_second_global_admin_the_first_may_be_stepped_down_by_the_second(client, demo_user):
    admin = demo_user("globaladmin")
    agent = demo_user("adminagent")
    signed_in_as(client, admin).post(
        reverse("partnercenter:user_roles", args=[agent.pk]), {"roles": ["global_admin"]}
    )
    response = signed_in_as(client, User.objects.get(pk=agent.pk)).post(
        reverse("partnercenter:user_roles", args=[admin.pk]), {"roles": ["admin_agent"]}
    )
    assert response.status_code == 302
    assert User.objects.get(pk=admin.pk).roles == {Role.ADMIN_AGENT}


def test_an_inactive_global_admin_does_not_count(client, demo_user):
    admin = demo_user("globaladmin")
    factories.StaffUserFactory(partner=admin.partner, roles=[Role.GLOBAL_ADMIN], is_active=False)
    with pytest.raises(DomainError, match="last active global admin"):
        services.user_roles_set(user=admin, roles=[], by=demo_user("usermgmtadmin"))


def test_deactivating_the_last_global_admin_is_refused(client, demo_user):
    admin = demo_user("globaladmin")
    for by in (demo_user("usermgmtadmin"), admin):
        response = signed_in_as(client, by).post(
            reverse("partnercenter:user_deactivate", args=[admin.pk]), follow=True
        )
        assert "is the last active global admin of Contoso Distribution" in (
            response.content.decode()
        )
        assert User.objects.get(pk=admin.pk).is_active


def test_a_user_management_admin_cannot_deactivate_a_global_admin(client, demo_user):
    admin = demo_user("globaladmin")
    factories.StaffUserFactory(partner=admin.partner, roles=[Role.GLOBAL_ADMIN])
    response = signed_in_as(client, demo_user("usermgmtadmin")).post(
        reverse("partnercenter:user_deactivate", args=[admin.pk]), follow=True
    )
    assert "Only a global admin may change the account of another global admin" in (
        response.content.decode()
    )
    assert User.objects.get(pk=admin.pk).is_active


def test_nobody_deactivates_their_own_account(client, demo_user):
    me = demo_user("usermgmtadmin")
    response = signed_in_as(client, me).post(
        reverse("partnercenter:user_deactivate", args=[me.pk]), follow=True
    )
    assert "You cannot deactivate your own account" in response.content.decode()
    assert User.objects.get(pk=me.pk).is_active


def test_deactivation_signs_the_user_out_everywhere_and_reactivation_does_not_undo_it(
    client, demo_user
):
    from django.test import Client

    from demo.world import DEMO_PASSWORD

    agent_browser = Client()
    agent_browser.post(
        reverse("partnercenter:login"), {"username": "helpdeskagent", "password": DEMO_PASSWORD}
    )
    second_browser = Client()
    second_browser.force_login(demo_user("helpdeskagent"))
    for browser in (agent_browser, second_browser):
        assert browser.get(reverse("dashboard:dashboard")).status_code == 200

    agent = demo_user("helpdeskagent")
    admin = signed_in_as(client, demo_user("usermgmtadmin"))
    response = admin.post(reverse("partnercenter:user_deactivate", args=[agent.pk]), follow=True)
    assert "Hanna Kovács was deactivated and signed out everywhere" in response.content.decode()
    assert not User.objects.get(pk=agent.pk).is_active
    for browser in (agent_browser, second_browser):
        assert browser.get(reverse("dashboard:dashboard")).url.startswith(
            reverse("partnercenter:login")
        )

    refused = Client().post(
        reverse("partnercenter:login"), {"username": "helpdeskagent", "password": DEMO_PASSWORD}
    )
    assert refused.status_code == 200
    assert "correct username and password" in refused.content.decode()
    assert refused.context["user"].is_anonymous

    admin.post(reverse("partnercenter:user_reactivate", args=[agent.pk]))
    assert User.objects.get(pk=agent.pk).is_active
    assert (
        agent_browser.get(reverse("dashboard:dashboard")).status_code == 302
    )  # the old session is gone
    again = Client()
    again.post(
        reverse("partnercenter:login"), {"username": "helpdeskagent", "password": DEMO_PASSWORD}
    )
    assert again.get(reverse("dashboard:dashboard")).status_code == 200


def test_history_still_names_a_deactivated_user(client, demo_user, premium, partner_named):
    from customers.services import support_contact_assign

    agent = demo_user("helpdeskagent")
    support_contact_assign(
        subscription=premium,
        contact=partner_named("Fabrikam Solutions"),
        by=agent,
        expected_version=premium.version,
    )
    signed_in_as(client, demo_user("globaladmin")).post(
        reverse("partnercenter:user_deactivate", args=[agent.pk])
    )
    assert "Hanna Kovács" in client.get(reverse("customers:history")).content.decode()


def test_a_new_set_password_link_can_be_sent(client, demo_user, django_capture_on_commit_callbacks):
    agent = demo_user("salesagent")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_as(client, demo_user("usermgmtadmin")).post(
            reverse("partnercenter:user_set_password_link", args=[agent.pk]), follow=True
        )
    assert "A link to set a password was sent to salesagent@" in response.content.decode()
    assert mail.outbox[0].to == [agent.email]
    assert "/accounts/set-password/" in mail.outbox[0].body


def test_roles_are_stored_once_each(demo_user):
    admin = demo_user("globaladmin")
    agent = demo_user("salesagent")
    services.user_roles_set(
        user=agent, roles=["sales_agent", "sales_agent", "admin_agent"], by=admin
    )
    assert RoleAssignment.objects.filter(user=agent).count() == 2


def test_my_access_shows_a_customer_admin_the_table_and_that_staff_roles_do_not_apply(
    client, demo_user
):
    client.force_login(demo_user("adatumadmin"))
    html = client.get(reverse("partnercenter:my_access")).content.decode()
    assert "You are an admin of Adatum Corporation" in html
    assert "Manage partner users and their roles" in html
    assert "Two-step verification is off" in html


# Email goes out once the change is committed, never while the partner's row is locked.


def invite(by, **overrides):
    data = {
        "partner": by.partner,
        "by": by,
        "username": "newhelper",
        "first_name": "Nina",
        "last_name": "Berg",
        "email": "nina@contoso-distribution.example",
        "roles": ["helpdesk_agent"],
        "site_url": "http://testserver/",
    }
    data.update(overrides)
    return services.user_invite(**data)


class _RolledBack(Exception):
    pass


def rolled_back(action) -> None:
    """Run `action` in a transaction that something later makes roll back."""
    try:
        with transaction.atomic():
            action()
            raise _RolledBack
    except _RolledBack:
        pass


def test_the_invitation_is_mailed_only_once_the_new_user_is_committed(
    demo_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(demo_user("usermgmtadmin"))
        assert mail.outbox == []  # the transaction is still open
    assert [m.to for m in mail.outbox] == [["nina@contoso-distribution.example"]]


def test_a_rolled_back_invitation_sends_no_mail(demo_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rolled_back(lambda: invite(demo_user("usermgmtadmin")))
    assert mail.outbox == []
    assert not User.objects.filter(username="newhelper").exists()


def test_a_refused_invitation_sends_no_mail(demo_user, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(DomainError, match="Only a global admin may grant"),
    ):
        invite(demo_user("usermgmtadmin"), roles=["global_admin"])
    assert mail.outbox == []
    assert not User.objects.filter(username="newhelper").exists()


def test_a_new_set_password_link_is_mailed_only_once_committed(
    demo_user, django_capture_on_commit_callbacks
):
    agent = demo_user("salesagent")
    with django_capture_on_commit_callbacks(execute=True):
        services.set_password_link_send(
            user=agent, by=demo_user("usermgmtadmin"), site_url="http://testserver/"
        )
        assert mail.outbox == []
    assert [m.to for m in mail.outbox] == [[agent.email]]

    with django_capture_on_commit_callbacks(execute=True):
        rolled_back(
            lambda: services.set_password_link_send(
                user=agent, by=demo_user("usermgmtadmin"), site_url="http://testserver/"
            )
        )
    assert len(mail.outbox) == 1
