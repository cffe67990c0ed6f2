"""Nobody changes their own roles, and every change of roles is recorded for good."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin import site as admin_site
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partnercenter import services
from partnercenter.errors import DomainError
from partnercenter.models import RoleAssignment, RoleChange, User
from partnercenter.records import RecordIsImmutable
from partnercenter.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


OWN_ROLES = "You cannot change your own roles. Ask another admin to do it."


def roles_form_in(html: str, user: User) -> bool:
    return f'action="{reverse("partnercenter:user_roles", args=[user.pk])}"' in html


# Nobody changes their own roles


def test_a_user_management_admin_cannot_give_itself_the_admin_agent_role(client, demo_user):
    me = demo_user("usermgmtadmin")
    client.force_login(me)
    response = client.post(
        reverse("partnercenter:user_roles", args=[me.pk]),
        {"roles": ["user_management_admin", "admin_agent"]},
    )
    assert response.status_code == 200
    assert OWN_ROLES in response.content.decode()
    assert User.objects.get(pk=me.pk).roles == {Role.USER_MANAGEMENT_ADMIN}
    assert not RoleChange.objects.filter(user=me).exists()


def test_giving_oneself_the_global_admin_role_is_refused_with_the_reason(client, demo_user):
    me = demo_user("usermgmtadmin")
    client.force_login(me)
    response = client.post(
        reverse("partnercenter:user_roles", args=[me.pk]),
        {"roles": ["user_management_admin", "global_admin"]},
    )
    assert "Only a global admin may grant or remove the global admin role." in (
        response.content.decode()
    )
    assert User.objects.get(pk=me.pk).roles == {Role.USER_MANAGEMENT_ADMIN}
    assert not RoleChange.objects.exists()


@pytest.mark.parametrize(
    ("username", "roles"),
    [
        ("usermgmtadmin", ["user_management_admin", "admin_agent"]),
        ("usermgmtadmin", []),
        ("globaladmin", ["global_admin", "sales_agent"]),
    ],
)
def test_the_service_refuses_any_change_of_ones_own_roles(demo_user, username, roles):
    me = demo_user(username)
    before = me.roles
    if username == "globaladmin":  # not the last global admin, so only the rule itself refuses
        factories.StaffUserFactory(partner=me.partner, roles=[Role.GLOBAL_ADMIN])
    with pytest.raises(DomainError) as refused:
        services.user_roles_set(user=me, roles=roles, by=me)
    assert refused.value.message == OWN_ROLES
    assert User.objects.get(pk=me.pk).roles == before
    assert not RoleChange.objects.exists()


def test_ones_own_page_shows_the_roles_read_only(client, demo_user):
    me = demo_user("usermgmtadmin")
    client.force_login(me)
    own = client.get(reverse("partnercenter:user_detail", args=[me.pk])).content.decode()
    assert not roles_form_in(own, me)
    assert "Save roles" not in own
    assert '<span class="badge">User management admin</span>' in own
    assert "These are your own roles: you cannot change them. Another admin can." in own

    agent = demo_user("helpdeskagent")
    other = client.get(reverse("partnercenter:user_detail", args=[agent.pk])).content.decode()
    assert roles_form_in(other, agent)
    assert "Save roles" in other


def test_another_admin_changes_ones_roles(client, demo_user):
    me = demo_user("usermgmtadmin")
    client.force_login(demo_user("globaladmin"))
    response = client.post(
        reverse("partnercenter:user_roles", args=[me.pk]),
        {"roles": ["user_management_admin", "admin_agent"]},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=me.pk).roles == {Role.USER_MANAGEMENT_ADMIN, Role.ADMIN_AGENT}


# The record


def test_a_change_of_roles_is_recorded_with_whose_by_whom_from_and_to(client, demo_user):
    agent = demo_user("helpdeskagent")
    by = demo_user("usermgmtadmin")
    client.force_login(by)
    before = timezone.now()
    client.post(
        reverse("partnercenter:user_roles", args=[agent.pk]),
        {"roles": ["sales_agent", "admin_agent"]},
    )

    change = RoleChange.objects.get()
    assert change.user == agent
    assert change.changed_by == by
    assert change.from_roles == ["helpdesk_agent"]
    assert change.to_roles == ["admin_agent", "sales_agent"]  # sorted
    assert before <= change.changed_at <= timezone.now()


def test_saving_the_same_roles_again_records_nothing(demo_user):
    agent = demo_user("helpdeskagent")
    services.user_roles_set(user=agent, roles=["helpdesk_agent"], by=demo_user("usermgmtadmin"))
    assert not RoleChange.objects.exists()


def test_a_refused_change_records_nothing(demo_user):
    agent = demo_user("helpdeskagent")
    with pytest.raises(DomainError, match="Only a global admin may grant"):
        services.user_roles_set(user=agent, roles=["global_admin"], by=demo_user("usermgmtadmin"))
    assert not RoleChange.objects.exists()


def test_an_invitation_records_the_initial_roles(client, demo_user):
    by = demo_user("usermgmtadmin")
    client.force_login(by)
    client.post(
        reverse("partnercenter:user_add"),
        {
            "username": "newhelper",
            "first_name": "Nina",
            "last_name": "Berg",
            "email": "nina@contoso-distribution.example",
            "roles": ["helpdesk_agent", "sales_agent"],
        },
    )
    change = RoleChange.objects.get(user__username="newhelper")
    assert change.changed_by == by
    assert change.from_roles == []
    assert change.to_roles == ["helpdesk_agent", "sales_agent"]


def test_the_user_page_shows_the_role_changes_newest_first(client, demo_user):
    agent = demo_user("helpdeskagent")
    client.force_login(demo_user("globaladmin"))
    client.post(reverse("partnercenter:user_roles", args=[agent.pk]), {"roles": ["sales_agent"]})
    client.force_login(demo_user("usermgmtadmin"))
    client.post(
        reverse("partnercenter:user_roles", args=[agent.pk]),
        {"roles": ["sales_agent", "admin_agent"]},
    )

    html = client.get(reverse("partnercenter:user_detail", args=[agent.pk])).content.decode()
    assert "Role changes" in html
    rows = re.findall(r"<tr>\s*<td><time.*?</tr>", html, flags=re.S)
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert len(text) == 2
    assert text[0].endswith("Umar Haddad Sales agent Admin agent Sales agent")
    assert text[1].endswith("Grace Lindqvist Helpdesk agent Sales agent")


def test_a_user_without_role_changes_says_so(client, demo_user):
    client.force_login(demo_user("usermgmtadmin"))
    html = client.get(
        reverse("partnercenter:user_detail", args=[demo_user("salesagent").pk])
    ).content
    assert "No role change has been recorded for this user." in html.decode()


def _record(user, by, count):
    now = timezone.now()
    for i in range(count):
        RoleChange.objects.create(
            user=user,
            changed_by=by,
            from_roles=["sales_agent"] if i % 2 else [],
            to_roles=[] if i % 2 else ["sales_agent"],
            changed_at=now - timedelta(minutes=count - i),
        )


def test_the_user_page_shows_the_latest_twenty_role_changes(client, demo_user):
    agent = demo_user("salesagent")
    _record(agent, demo_user("globaladmin"), 25)
    client.force_login(demo_user("usermgmtadmin"))
    response = client.get(reverse("partnercenter:user_detail", args=[agent.pk]))
    shown = response.context["role_changes"]
    newest = list(RoleChange.objects.filter(user=agent).order_by("-changed_at")[:20])
    assert shown == newest
    assert response.content.decode().count("<td><time") == 20


def test_the_user_page_costs_the_same_queries_with_many_role_changes(client, demo_user):
    agent = demo_user("salesagent")
    client.force_login(demo_user("usermgmtadmin"))
    url = reverse("partnercenter:user_detail", args=[agent.pk])
    counts = []
    for more in (1, 30):
        _record(agent, factories.StaffUserFactory(partner=agent.partner), more)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_role_changes_are_never_edited_or_deleted(demo_user):
    agent = demo_user("helpdeskagent")
    services.user_roles_set(user=agent, roles=["sales_agent"], by=demo_user("usermgmtadmin"))
    change = RoleChange.objects.get()

    change.to_roles = ["global_admin"]
    with pytest.raises(RecordIsImmutable):
        change.save()
    with pytest.raises(RecordIsImmutable):
        change.delete()
    with pytest.raises(RecordIsImmutable):
        RoleChange.objects.filter(pk=change.pk).update(to_roles=["global_admin"])
    with pytest.raises(RecordIsImmutable):
        RoleChange.objects.filter(pk=change.pk).delete()
    with pytest.raises(RecordIsImmutable):
        RoleChange.objects.bulk_update([change], ["to_roles"])
    assert not issubclass(RecordIsImmutable, PermissionError)

    stored = RoleChange.objects.get()
    assert stored.to_roles == ["sales_agent"]
    assert stored.changed_by == demo_user("usermgmtadmin")


def test_role_changes_can_be_read_but_not_written_in_the_back_office(client, demo_user):
    agent = demo_user("helpdeskagent")
    services.user_roles_set(user=agent, roles=["sales_agent"], by=demo_user("globaladmin"))
    change = RoleChange.objects.get()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))

    listing = client.get(reverse("admin:partnercenter_rolechange_changelist"))
    assert listing.status_code == 200
    assert "Helpdesk agent" in listing.content.decode()
    assert "Sales agent" in listing.content.decode()
    assert client.get(reverse("admin:partnercenter_rolechange_add")).status_code == 403
    change_url = reverse("admin:partnercenter_rolechange_change", args=[change.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"to_roles": '["global_admin"]'}).status_code == 403
    delete_url = reverse("admin:partnercenter_rolechange_delete", args=[change.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    model_admin = admin_site._registry[RoleChange]
    assert "delete_selected" not in model_admin.get_actions(page.wsgi_request)
    assert RoleChange.objects.get().to_roles == ["sales_agent"]


def test_a_change_of_roles_in_the_back_office_is_recorded_too(client, demo_user):
    agent = demo_user("helpdeskagent")
    assignment = RoleAssignment.objects.get(user=agent)
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    response = client.post(
        reverse("admin:partnercenter_user_change", args=[agent.pk]),
        {
            "username": agent.username,
            "first_name": agent.first_name,
            "last_name": agent.last_name,
            "email": agent.email,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "09:00:00",
            "partner": agent.partner_id,
            "role_assignments-TOTAL_FORMS": "2",
            "role_assignments-INITIAL_FORMS": "1",
            "role_assignments-MIN_NUM_FORMS": "0",
            "role_assignments-MAX_NUM_FORMS": "1000",
            "role_assignments-0-id": assignment.pk,
            "role_assignments-0-user": agent.pk,
            "role_assignments-0-role": "helpdesk_agent",
            "role_assignments-1-user": agent.pk,
            "role_assignments-1-role": "sales_agent",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(pk=agent.pk).roles == {Role.HELPDESK_AGENT, Role.SALES_AGENT}
    change = RoleChange.objects.get()
    assert (change.user, change.changed_by) == (agent, superuser)
    assert (change.from_roles, change.to_roles) == (
        ["helpdesk_agent"],
        ["helpdesk_agent", "sales_agent"],
    )
