"""Sign-in throttling, idle sessions and two-step verification."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from partnercenter import signin
from partnercenter.demo import DEMO_PASSWORD
from partnercenter.models import User
from partnercenter.roles import Role
from tests import factories
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOCKED = "Too many failed sign-ins for this username or from your address"


def sign_in(client, username, password=DEMO_PASSWORD, address="10.0.0.1", **extra):
    return client.post(
        LOGIN, {"username": username, "password": password, **extra}, REMOTE_ADDR=address
    )


def fail(client, username, times, address="10.0.0.1"):
    for _ in range(times):
        response = sign_in(client, username, "wrong-password", address)
    return response


# Throttling


def test_one_wrong_password_gets_the_usual_message(client, demo_world):
    response = fail(client, "adminagent", 1)
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_a_username_is_locked_after_five_failures_even_with_the_right_password(client, demo_world):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert "correct username and password" in fail(client, "adminagent", 4).content.decode()
    locked = fail(client, "adminagent", 1)
    assert locked.status_code == 429
    html = locked.content.decode()
    assert LOCKED in html
    assert "locked for 15 minutes" in html
    assert 'name="username"' in html  # still the sign-in page

    from_elsewhere = sign_in(Client(), "adminagent", address="10.9.9.9")
    assert from_elsewhere.status_code == 429
    assert "_auth_user_id" not in from_elsewhere.wsgi_request.session
    # Other users are not affected.
    assert sign_in(Client(), "salesagent", address="10.9.9.9").status_code == 302


def test_an_address_is_locked_after_five_failures_whatever_the_username(client, demo_world):
    for username in ("a1", "a2", "a3", "a4", "a5"):
        response = sign_in(client, username, "guess", address="10.6.6.6")
    assert response.status_code == 429
    assert sign_in(client, "adminagent", address="10.6.6.6").status_code == 429
    assert sign_in(Client(), "adminagent", address="10.7.7.7").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, demo_world):
    fail(client, "adminagent", 5)
    assert sign_in(client, "adminagent").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, "adminagent").status_code == 302


def test_a_successful_sign_in_resets_the_count(client, demo_world):
    fail(client, "adminagent", 4)
    assert sign_in(client, "adminagent").status_code == 302
    Client().post(reverse("logout"))
    assert fail(Client(), "adminagent", 4).status_code == 200


def test_the_back_office_sign_in_is_the_same_throttled_page(client, demo_world):
    fail(client, "adminagent", 5)
    response = client.post(
        "/backoffice/login/?next=/backoffice/",
        {"username": "adminagent", "password": DEMO_PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        follow=True,
    )
    assert response.redirect_chain[0][0].startswith(LOGIN)


def test_behind_proxies_the_address_comes_from_x_forwarded_for(rf, settings):
    settings.SIGNIN_PROXY_COUNT = 1
    request = rf.post(LOGIN, REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert signin.client_ip(request) == "203.0.113.9"
    settings.SIGNIN_PROXY_COUNT = 0
    assert signin.client_ip(request) == "10.0.0.254"


# Sessions


def test_sessions_end_after_eight_idle_hours():
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert not getattr(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE", False)


def test_a_session_in_use_is_renewed_at_most_every_few_minutes(client, db):
    client.force_login(factories.StaffUserFactory(roles=[Role.ADMIN_AGENT]))
    session = client.session
    first_expiry = session.get_expiry_date()
    client.get(reverse("dashboard"))
    assert client.session[signin.SESSION_RENEWED_KEY] == session[signin.SESSION_RENEWED_KEY]

    session[signin.SESSION_RENEWED_KEY] = int(time.time()) - settings.SESSION_RENEW_AFTER_SECONDS
    session.save()
    client.get(reverse("dashboard"))
    renewed = client.session
    assert renewed[signin.SESSION_RENEWED_KEY] >= int(time.time()) - 2
    assert renewed.get_expiry_date() >= first_expiry


# Two-step verification


def code_for(device) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def set_up(client, user) -> tuple[TOTPDevice, list[str]]:
    page = client.get(reverse("two_step_setup"))
    assert "Scan this QR code" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post(reverse("two_step_setup"), {"code": code_for(device)})
    return device, done.context["codes"]


def test_a_global_admin_must_set_up_two_step_verification_before_anything_else(client, db):
    admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN], two_step_exempt=False)
    response = client.post(
        LOGIN, {"username": admin.username, "password": TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith(reverse("two_step_setup"))
    html = response.content.decode()
    assert "Global admins must use two-step verification" in html
    assert response.context["navigation"] == []
    for name in ("dashboard", "user_list", "my_access", "history"):
        assert client.get(reverse(name)).url.startswith(reverse("two_step_setup"))
    assert client.get("/backoffice/").url.startswith(reverse("two_step_setup"))

    qr = client.get(reverse("two_step_qr"))
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    assert "no-store" in qr["Cache-Control"] or "no-cache" in qr["Cache-Control"]

    wrong = client.post(reverse("two_step_setup"), {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    throttled = client.post(reverse("two_step_setup"), {"code": "000000"})
    assert "Too many wrong codes" in throttled.content.decode()
    TOTPDevice.objects.filter(user=admin).update(throttling_failure_count=0)
    device, codes = set_up(client, admin)
    assert len(codes) == 10
    assert client.get(reverse("dashboard")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_with_two_step_on_sign_in_asks_for_a_code(client, db):
    user = factories.StaffUserFactory(roles=[Role.HELPDESK_AGENT])
    client.force_login(user)
    device, _codes = set_up(client, user)
    client.post(reverse("logout"))

    response = client.post(
        LOGIN, {"username": user.username, "password": TEST_PASSWORD, "next": "/history/"}
    )
    verify = client.get(response.url, follow=True)
    assert verify.redirect_chain[-1][0].startswith(reverse("two_step_verify"))
    assert client.get(reverse("dashboard")).url.startswith(reverse("two_step_verify"))

    wrong = client.post(reverse("two_step_verify"), {"code": "123456", "next": "/history/"})
    assert "That code is not right" in wrong.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    # A code already used at set-up is not accepted twice; wait for the next one.
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    ok = client.post(reverse("two_step_verify"), {"code": code_for(device), "next": "/history/"})
    assert ok.status_code == 302
    assert ok.url == "/history/"
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_recovery_code_signs_in_once(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    _device, codes = set_up(client, user)
    client.post(reverse("logout"))

    for attempt in range(2):
        other = Client()
        other.post(LOGIN, {"username": user.username, "password": TEST_PASSWORD})
        response = other.post(reverse("two_step_verify"), {"code": codes[0].upper()}, follow=True)
        if attempt == 0:
            assert "You signed in with a recovery code; 9 left" in response.content.decode()
            assert other.get(reverse("dashboard")).status_code == 200
        else:
            assert "That code is not right" in response.content.decode()
    assert StaticToken.objects.filter(device__user=user).count() == 9


def test_wrong_codes_are_throttled(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    device, _codes = set_up(client, user)
    client.post(reverse("logout"))
    client.post(LOGIN, {"username": user.username, "password": TEST_PASSWORD})
    client.post(reverse("two_step_verify"), {"code": "111111"})
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    response = client.post(reverse("two_step_verify"), {"code": code_for(device)})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_demo_users_are_not_asked_for_two_step_verification(client, demo_world):
    response = client.post(
        LOGIN, {"username": "globaladmin", "password": DEMO_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")


def test_a_global_admin_cannot_turn_two_step_off_but_others_can(client, db):
    admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN], two_step_exempt=False)
    client.force_login(admin)
    device, _codes = set_up(client, admin)
    page = client.get(reverse("two_step")).content.decode()
    assert "Global admins must keep two-step verification on" in page
    client.post(reverse("two_step_turn_off"), {"code": "000000"})
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()

    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    other = Client()
    other.force_login(user)
    device, _codes = set_up(other, user)
    refused = other.post(reverse("two_step_turn_off"), {"code": "000000"}, follow=True)
    assert "two-step verification stays on" in refused.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=device.last_t - 1, throttling_failure_count=0
    )
    done = other.post(reverse("two_step_turn_off"), {"code": code_for(device)}, follow=True)
    assert "Two-step verification is off" in done.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_new_recovery_codes_replace_the_old_ones(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    _device, old = set_up(client, user)
    new = client.post(reverse("two_step_recovery_codes")).context["codes"]
    assert len(new) == 10
    assert not set(old) & set(new)
    assert set(
        StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
    ) == set(new)


def test_a_user_admin_turns_off_a_lost_phone_and_a_global_admin_must_set_up_again(client, db):
    admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN], two_step_exempt=False)
    agent = factories.StaffUserFactory(partner=admin.partner, roles=[Role.HELPDESK_AGENT])
    uma = factories.StaffUserFactory(partner=admin.partner, roles=[Role.USER_MANAGEMENT_ADMIN])
    for user in (admin, agent):
        c = Client()
        c.force_login(user)
        set_up(c, user)

    client.force_login(uma)
    refused = client.post(reverse("user_two_step_reset", args=[admin.pk]), follow=True)
    assert "Only a global admin may change" in refused.content.decode()
    done = client.post(reverse("user_two_step_reset", args=[agent.pk]), follow=True)
    assert "Two-step verification of" in done.content.decode()
    assert not TOTPDevice.objects.filter(user=agent).exists()

    second_admin = factories.StaffUserFactory(partner=admin.partner, roles=[Role.GLOBAL_ADMIN])
    client.force_login(second_admin)
    client.post(reverse("user_two_step_reset", args=[admin.pk]))
    assert not TOTPDevice.objects.filter(user=admin).exists()
    again = Client()
    response = again.post(LOGIN, {"username": admin.username, "password": TEST_PASSWORD})
    assert again.get(response.url).url.startswith(reverse("two_step_setup"))


def test_the_users_page_shows_who_has_two_step_on(client, db):
    uma = factories.StaffUserFactory(roles=[Role.USER_MANAGEMENT_ADMIN])
    client.force_login(uma)
    set_up(client, uma)
    rows = client.get(reverse("user_list")).context["rows"]
    assert [(u.username, u.has_two_step) for u, _roles in rows] == [(uma.username, True)]
    assert User.objects.get(pk=uma.pk).two_step_exempt  # factory users are, like demo users
