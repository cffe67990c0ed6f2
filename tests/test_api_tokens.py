"""API tokens: issued to active partner staff only, stored as a hash, revoked by their owner or
their partner's global admin, and authenticating a call while unexpired, unrevoked and the user
active, with the user's roles as they are now."""

import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.urls import reverse

from partnercenter import services
from partnercenter.api_tokens import (
    api_token_authenticate,
    api_token_issue,
    api_token_revoke,
)
from partnercenter.errors import DomainError
from partnercenter.models import ApiToken, RoleAssignment
from partnercenter.roles import Capability, Role
from tests import factories

pytestmark = pytest.mark.django_db


def _issue(user=None, expires_in=timedelta(days=1)):
    user = user or factories.StaffUserFactory(roles=[Role.HELPDESK_AGENT])
    return api_token_issue(user=user, name="PSA sync", expires_in=expires_in)


def test_a_staff_user_gets_a_token_that_authenticates_as_them():
    user = factories.StaffUserFactory(roles=[Role.HELPDESK_AGENT])
    token, raw = _issue(user)
    assert raw.startswith(f"pc_{token.prefix}_")
    assert token.user == user
    assert token.name == "PSA sync"
    assert token.expires_at - token.created_at == timedelta(days=1)
    authenticated = api_token_authenticate(raw)
    assert authenticated == user
    assert authenticated.api_token == token
    assert authenticated.can(Capability.ASSIGN_SUPPORT_CONTACT)


def test_the_token_itself_is_nowhere_in_the_database():
    token, raw = _issue()
    secret = raw.split("_", 2)[2]
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                assert not model.objects.filter(**{f"{field.name}__contains": secret}).exists()
    stored = ApiToken.objects.get(pk=token.pk)
    assert len(stored.token_hash) == 64
    assert stored.token_hash not in raw


@pytest.mark.parametrize(
    ("expires_in", "message"),
    [
        (timedelta(days=90, seconds=1), "90 days at most"),
        (timedelta(days=365), "90 days at most"),
        (timedelta(0), "at least one second"),
        (timedelta(seconds=-5), "at least one second"),
    ],
)
def test_a_lifetime_outside_one_second_to_ninety_days_is_refused(expires_in, message):
    with pytest.raises(DomainError, match=message):
        _issue(expires_in=expires_in)
    assert not ApiToken.objects.exists()


def test_ninety_days_exactly_is_allowed():
    token, _raw = _issue(expires_in=timedelta(days=90))
    assert token.expires_at - token.created_at == timedelta(days=90)


def test_customer_admins_inactive_users_and_nameless_tokens_are_refused():
    with pytest.raises(DomainError, match="Only partner staff"):
        _issue(factories.CustomerAdminFactory())
    with pytest.raises(DomainError, match="deactivated"):
        _issue(factories.StaffUserFactory(is_active=False))
    with pytest.raises(DomainError, match="name"):
        api_token_issue(user=factories.StaffUserFactory(), name="  ", expires_in=timedelta(1))
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "Bearer",
        "pc_",
        "x" * 10_000,
        "pc_0123456789ab_" + "a" * 42,
        "pc_0123456789AB_" + "a" * 43,
        "pc_0123456789ab_" + "a" * 42 + "\u00e9",
        12345,
    ],
)
def test_garbage_authenticates_nobody(garbage):
    _issue()
    assert api_token_authenticate(garbage) is None


def test_a_wrong_secret_or_a_wrong_prefix_authenticates_nobody():
    token, raw = _issue()
    other, other_raw = _issue()
    secret = raw.split("_", 2)[2]
    forged_secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert api_token_authenticate(f"pc_{token.prefix}_{forged_secret}") is None
    assert api_token_authenticate(f"pc_{other.prefix}_{secret}") is None
    assert api_token_authenticate(f"pc_{'0' * 12}_{secret}") is None
    assert api_token_authenticate(other_raw) == other.user


def test_a_revoked_token_authenticates_nobody():
    token, raw = _issue()
    api_token_revoke(token=token, by=token.user)
    assert api_token_authenticate(raw) is None


def test_an_expired_token_authenticates_nobody():
    token, raw = _issue()
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=token.created_at - timedelta(days=2),
        expires_at=token.created_at - timedelta(seconds=1),
    )
    assert api_token_authenticate(raw) is None


def test_deactivating_the_user_ends_their_tokens_even_after_reactivation():
    admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN])
    user = factories.StaffUserFactory(partner=admin.partner, roles=[Role.HELPDESK_AGENT])
    _token, raw = _issue(user)
    services.user_deactivate(user=user, by=admin)
    assert api_token_authenticate(raw) is None
    services.user_reactivate(user=user, by=admin)
    assert api_token_authenticate(raw) is None
    _new, new_raw = _issue(user)
    assert api_token_authenticate(new_raw) == user


def test_a_change_of_roles_applies_on_the_next_call():
    user = factories.StaffUserFactory(roles=[Role.HELPDESK_AGENT])
    _token, raw = _issue(user)
    assert api_token_authenticate(raw).can(Capability.ASSIGN_SUPPORT_CONTACT)
    RoleAssignment.objects.filter(user=user).update(role=Role.SALES_AGENT)
    again = api_token_authenticate(raw)
    assert again.roles == {Role.SALES_AGENT}
    assert not again.can(Capability.ASSIGN_SUPPORT_CONTACT)


def test_last_used_is_written_at_most_once_a_minute(django_assert_num_queries):
    token, raw = _issue()
    assert token.last_used_at is None
    with django_assert_num_queries(2):  # the token with its user, then the write
        api_token_authenticate(raw)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(1):  # within the minute: no write
        api_token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    api_token_authenticate(raw)
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(minutes=2)


def test_a_user_revokes_their_own_token_but_not_a_colleagues():
    token, _raw = _issue()
    colleague = factories.StaffUserFactory(partner=token.user.partner, roles=[Role.ADMIN_AGENT])
    with pytest.raises(DomainError, match="may not revoke"):
        api_token_revoke(token=token, by=colleague)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    revoked = api_token_revoke(token=token, by=token.user)
    assert revoked.revoked_at is not None
    assert revoked.revoked_by == token.user
    assert api_token_revoke(token=token, by=token.user).revoked_at == revoked.revoked_at


def test_a_global_admin_revokes_any_token_of_their_partner_only():
    token, _raw = _issue()
    own_admin = factories.StaffUserFactory(partner=token.user.partner, roles=[Role.GLOBAL_ADMIN])
    other_admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN])
    with pytest.raises(DomainError, match="may not revoke"):
        api_token_revoke(token=token, by=other_admin)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert api_token_revoke(token=token, by=own_admin).revoked_by == own_admin


def test_customer_admins_and_deactivated_users_revoke_nothing():
    token, _raw = _issue()
    with pytest.raises(DomainError):
        api_token_revoke(token=token, by=factories.CustomerAdminFactory())
    token.user.is_active = False
    token.user.save()
    with pytest.raises(DomainError):
        api_token_revoke(token=token, by=token.user)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_the_command_prints_a_working_token_and_nothing_else():
    user = factories.StaffUserFactory(username="scripter", roles=[Role.ADMIN_AGENT])
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", "scripter", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert err.getvalue() == ""
    assert api_token_authenticate(lines[0]) == user
    token = ApiToken.objects.get()
    assert token.expires_at - token.created_at == timedelta(seconds=3600)


def test_the_command_takes_a_lifetime_and_a_name():
    factories.StaffUserFactory(username="scripter")
    out = io.StringIO()
    call_command("api_token", "scripter", "--expires-in", "60", "--name", "CI", stdout=out)
    token = ApiToken.objects.get()
    assert (token.name, token.expires_at - token.created_at) == ("CI", timedelta(seconds=60))


@pytest.mark.parametrize(
    ("username", "arguments", "message"),
    [
        ("nobody", [], "no user"),
        ("customeradmin", [], "Only partner staff"),
        ("inactive", [], "deactivated"),
        ("scripter", ["--expires-in", "0"], "1 to 7776000"),
        ("scripter", ["--expires-in", "7776001"], "1 to 7776000"),
        ("scripter", ["--expires-in", "soon"], "invalid int"),
    ],
)
def test_the_command_refuses_with_an_error_and_prints_no_token(username, arguments, message):
    factories.StaffUserFactory(username="scripter")
    factories.StaffUserFactory(username="inactive", is_active=False)
    factories.CustomerAdminFactory(username="customeradmin")
    out = io.StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("api_token", username, *arguments, stdout=out)
    assert out.getvalue() == ""
    assert not ApiToken.objects.exists()


def test_the_back_office_lists_and_revokes_tokens_but_never_shows_the_hash(client):
    token, raw = _issue()
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:partnercenter_apitoken_changelist"))
    assert listing.status_code == 200
    page = client.get(reverse("admin:partnercenter_apitoken_change", args=[token.pk]))
    for response in (listing, page):
        html = response.content.decode()
        assert token.display_prefix in html
        assert token.token_hash not in html
        assert raw not in html
    assert client.get(reverse("admin:partnercenter_apitoken_add")).status_code == 403
    response = client.post(
        reverse("admin:partnercenter_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert api_token_authenticate(raw) is None
