"""Sign-in throttling, idle sessions and two-step verification."""

import re
import time
from base64 import b32decode
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo.world import DEMO_PASSWORD
from partnercenter import signin, two_step
from partnercenter.models import User
from partnercenter.roles import Role
from tests import factories
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_world(demo_world_seeded_once):
    """The demo world, seeded once for this module: each test's writes are rolled back."""


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
    Client().post(reverse("partnercenter:logout"))
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


# Usernames and passwords no account can have: refused like a wrong password, without hashing
# anything, and counted like any failed sign-in.

IMPOSSIBLE = {
    "256 characters": ("u" * 256, "wrong-password"),
    "10,000 characters": ("u" * 10_000, "wrong-password"),
    "NUL in the username": ("adminagent\0", DEMO_PASSWORD),
    "NUL in the password": ("adminagent", DEMO_PASSWORD + "\0"),
}


@pytest.fixture
def hashes():
    """Counts the passwords hashed (checked or made) while the test runs."""
    with mock.patch.object(
        PBKDF2PasswordHasher, "encode", autospec=True, side_effect=PBKDF2PasswordHasher.encode
    ) as encode:
        yield encode


@pytest.mark.parametrize(("username", "password"), IMPOSSIBLE.values(), ids=IMPOSSIBLE.keys())
def test_an_impossible_username_or_password_is_refused_without_hashing_and_counted(
    client, demo_world, hashes, username, password
):
    response = sign_in(client, username, password, address="10.3.3.3")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert hashes.call_count == 0
    attempt = AccessAttempt.objects.get(ip_address="10.3.3.3")
    assert attempt.failures_since_start == 1
    assert len(attempt.username) <= 150
    assert "\0" not in attempt.username


def test_an_unknown_username_of_ordinary_length_still_costs_a_hash(client, demo_world, hashes):
    # The other side of the test above: ordinary failures go through the password check.
    response = sign_in(client, "u" * 150, "wrong-password")
    assert "Please enter a correct username and password" in response.content.decode()
    assert hashes.call_count == 1


@pytest.mark.parametrize(("username", "password"), IMPOSSIBLE.values(), ids=IMPOSSIBLE.keys())
def test_repeated_impossible_sign_ins_lock_the_address_out(client, demo_world, username, password):
    for attempt in range(1, settings.AXES_FAILURE_LIMIT + 1):
        response = sign_in(client, username, password, address="10.4.4.4")
        if attempt < settings.AXES_FAILURE_LIMIT:
            assert response.status_code == 200
            assert "Please enter a correct username and password" in response.content.decode()
    assert response.status_code == 429
    assert LOCKED in response.content.decode()

    # Then even a real user with the right password is refused from that address...
    refused = sign_in(Client(), "salesagent", DEMO_PASSWORD, address="10.4.4.4")
    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session
    # ...and still signs in from another.
    assert sign_in(Client(), "salesagent", DEMO_PASSWORD, address="10.5.5.5").status_code == 302


def test_the_lockout_page_shows_at_most_a_usernames_worth_of_characters(client, demo_world):
    fail(client, "adminagent", 5)
    response = sign_in(client, "u" * 10_000, "wrong-password")
    assert response.status_code == 429
    value = re.search(r'name="username" value="(u*)"', response.content.decode()).group(1)
    assert len(value) == 150


def test_behind_proxies_the_address_comes_from_x_forwarded_for(rf, settings):
    settings.SIGNIN_PROXY_COUNT = 1
    request = rf.post(LOGIN, REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert signin.client_ip(request) == "203.0.113.9"
    settings.SIGNIN_PROXY_COUNT = 0
    assert signin.client_ip(request) == "10.0.0.254"


def test_x_forwarded_for_counts_only_on_a_request_from_a_trusted_proxy(rf, settings):
    settings.SIGNIN_TRUSTED_PROXIES = ["10.0.0.0/24"]
    forged = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}
    through_the_proxy = rf.post(LOGIN, REMOTE_ADDR="10.0.0.254", **forged)
    assert signin.client_ip(through_the_proxy) == "203.0.113.9"
    # A client reaching the server itself writes what it likes into the header: not read.
    direct = rf.post(LOGIN, REMOTE_ADDR="198.51.100.7", **forged)
    assert signin.client_ip(direct) == "198.51.100.7"
    settings.SIGNIN_PROXY_COUNT = 1  # the count does not open the door either
    assert signin.client_ip(direct) == "198.51.100.7"


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_first_other_address(rf, settings):
    settings.SIGNIN_TRUSTED_PROXIES = ["10.0.0.0/24", "192.0.2.1"]
    request = rf.post(
        LOGIN, REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 192.0.2.1"
    )
    assert signin.client_ip(request) == "203.0.113.9"
    # With a proxy count too, never more hops back than that: a client inside the proxies'
    # network is itself, not a proxy to look past.
    settings.SIGNIN_PROXY_COUNT = 1
    inside = rf.post(LOGIN, REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 10.0.0.7")
    assert signin.client_ip(inside) == "10.0.0.7"


@pytest.mark.parametrize("forwarded", ["", "unknown", "6.6.6.6, not-an-address", "::ffff:zz"])
def test_a_missing_or_malformed_x_forwarded_for_falls_back_to_the_peer(rf, settings, forwarded):
    settings.SIGNIN_PROXY_COUNT = 1
    request = rf.post(LOGIN, REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR=forwarded)
    assert signin.client_ip(request) == "10.0.0.254"
    settings.SIGNIN_TRUSTED_PROXIES = ["10.0.0.254"]
    assert signin.client_ip(request) == "10.0.0.254"


def test_behind_a_trusted_proxy_failures_lock_the_clients_address_not_the_proxys(
    client, demo_world, settings
):
    settings.SIGNIN_TRUSTED_PROXIES = ["10.0.0.254"]

    def through_proxy(username, password, address):
        return Client().post(
            LOGIN,
            {"username": username, "password": password},
            REMOTE_ADDR="10.0.0.254",
            HTTP_X_FORWARDED_FOR=f"6.6.6.6, {address}",  # the first one forged by the client
        )

    for username in ("a1", "a2", "a3", "a4", "a5"):
        through_proxy(username, "guess", "203.0.113.9")
    assert AccessAttempt.objects.filter(ip_address="203.0.113.9").count() == 5
    assert not AccessAttempt.objects.exclude(ip_address="203.0.113.9").exists()
    assert through_proxy("adminagent", DEMO_PASSWORD, "203.0.113.9").status_code == 429
    # Everyone else behind the same proxy still signs in.
    assert through_proxy("adminagent", DEMO_PASSWORD, "203.0.113.10").status_code == 302


# Sessions


def test_sessions_end_after_eight_idle_hours():
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert not getattr(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE", False)


def test_a_session_in_use_is_renewed_at_most_every_few_minutes(client, db):
    client.force_login(factories.StaffUserFactory(roles=[Role.ADMIN_AGENT]))
    session = client.session
    first_expiry = session.get_expiry_date()
    client.get(reverse("dashboard:dashboard"))
    assert client.session[signin.SESSION_RENEWED_KEY] == session[signin.SESSION_RENEWED_KEY]

    session[signin.SESSION_RENEWED_KEY] = int(time.time()) - settings.SESSION_RENEW_AFTER_SECONDS
    session.save()
    client.get(reverse("dashboard:dashboard"))
    renewed = client.session
    assert renewed[signin.SESSION_RENEWED_KEY] >= int(time.time()) - 2
    assert renewed.get_expiry_date() >= first_expiry


# Two-step verification


def code_for(device) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def key_on(page) -> bytes:
    """The secret key the set-up page shows to type into an authenticator app."""
    shown = re.search(r'<code class="secret-key">([A-Z2-7 ]+)</code>', page.content.decode())
    return b32decode(shown.group(1).replace(" ", ""))


def app_code(key: bytes) -> str:
    """The code an authenticator app given `key` shows now."""
    return f"{totp(key):06d}"


def set_up(client, user) -> tuple[TOTPDevice, list[str]]:
    page = client.get(reverse("partnercenter:two_step_setup"))
    assert "Scan this QR code" in page.content.decode()
    done = client.post(reverse("partnercenter:two_step_setup"), {"code": app_code(key_on(page))})
    return TOTPDevice.objects.get(user=user), done.context["codes"]


def no_devices() -> bool:
    return not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()


def test_opening_the_set_up_page_and_its_qr_code_stores_nothing(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    first = client.get(reverse("partnercenter:two_step_setup"))
    qr = client.get(reverse("partnercenter:two_step_qr"))
    again = client.get(reverse("partnercenter:two_step_setup"))
    assert first.status_code == qr.status_code == again.status_code == 200
    assert no_devices()
    # The same secret all along, until a code confirms it.
    assert key_on(first) == key_on(again)
    assert b"<svg" in qr.content


def test_the_qr_code_carries_the_secret_the_page_shows(client, db):
    from django_otp.qr import write_qrcode_image

    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    page = client.get(reverse("partnercenter:two_step_setup"))
    urls = []
    with mock.patch(
        "partnercenter.two_step_views.write_qrcode_image",
        side_effect=lambda url, out: urls.append(url) or write_qrcode_image(url, out),
    ):
        client.get(reverse("partnercenter:two_step_qr"))
    secret = parse_qs(urlparse(urls[0]).query)["secret"][0]
    assert b32decode(secret) == key_on(page)
    assert urls[0].startswith(f"otpauth://totp/partnercenter%3A{user.username}?")


def test_the_authenticator_is_stored_only_when_a_right_code_is_given(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    page = client.get(reverse("partnercenter:two_step_setup"))
    wrong = client.post(reverse("partnercenter:two_step_setup"), {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    assert no_devices()
    assert key_on(wrong) == key_on(page)

    session = client.session
    session[two_step.SETUP_SESSION_KEY] = {**session[two_step.SETUP_SESSION_KEY], "failures": 0}
    session.save()
    done = client.post(reverse("partnercenter:two_step_setup"), {"code": app_code(key_on(page))})
    assert "Two-step verification is on" in done.content.decode()
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    assert device.bin_key == key_on(page)
    assert StaticToken.objects.filter(device__user=user).count() == 10
    assert two_step.SETUP_SESSION_KEY not in client.session
    # The secret is no longer on offer.
    assert client.get(reverse("partnercenter:two_step_qr")).status_code == 404
    assert client.get(reverse("partnercenter:two_step_setup")).url == reverse(
        "partnercenter:two_step"
    )


def test_a_set_up_whose_session_lost_the_secret_must_start_again(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    page = client.get(reverse("partnercenter:two_step_setup"))
    session = client.session
    del session[two_step.SETUP_SESSION_KEY]
    session.save()
    response = client.post(
        reverse("partnercenter:two_step_setup"), {"code": app_code(key_on(page))}
    )
    assert "Start the set-up again: the page was out of date." in response.content.decode()
    assert no_devices()


def test_an_unconfirmed_device_left_by_an_earlier_set_up_is_replaced(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    client.force_login(user)
    assert client.get(reverse("partnercenter:two_step")).context["device"] is None
    device, _codes = set_up(client, user)
    assert list(TOTPDevice.objects.filter(user=user)) == [device]
    assert device.confirmed


def test_a_global_admin_must_set_up_two_step_verification_before_anything_else(client, db):
    admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN], two_step_exempt=False)
    response = client.post(
        LOGIN, {"username": admin.username, "password": TEST_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith(reverse("partnercenter:two_step_setup"))
    html = response.content.decode()
    assert "Global admins must use two-step verification" in html
    assert response.context["navigation"] == []
    for name in (
        "dashboard:dashboard",
        "partnercenter:user_list",
        "partnercenter:my_access",
        "customers:history",
    ):
        assert client.get(reverse(name)).url.startswith(reverse("partnercenter:two_step_setup"))
    assert client.get("/backoffice/").url.startswith(reverse("partnercenter:two_step_setup"))

    qr = client.get(reverse("partnercenter:two_step_qr"))
    assert qr["Content-Type"] == "image/svg+xml"
    assert b"<svg" in qr.content
    assert "no-store" in qr["Cache-Control"] or "no-cache" in qr["Cache-Control"]

    wrong = client.post(reverse("partnercenter:two_step_setup"), {"code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    throttled = client.post(reverse("partnercenter:two_step_setup"), {"code": "000000"})
    assert "Too many wrong codes" in throttled.content.decode()
    assert no_devices()
    # The throttle (kept with the pending secret in the session) lets a code through later.
    session = client.session
    session[two_step.SETUP_SESSION_KEY] = {
        **session[two_step.SETUP_SESSION_KEY],
        "failed_at": time.time() - 60,
    }
    session.save()
    device, codes = set_up(client, admin)
    assert len(codes) == 10
    assert client.get(reverse("dashboard:dashboard")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_with_two_step_on_sign_in_asks_for_a_code(client, db):
    user = factories.StaffUserFactory(roles=[Role.HELPDESK_AGENT])
    client.force_login(user)
    device, _codes = set_up(client, user)
    client.post(reverse("partnercenter:logout"))

    response = client.post(
        LOGIN, {"username": user.username, "password": TEST_PASSWORD, "next": "/history/"}
    )
    verify = client.get(response.url, follow=True)
    assert verify.redirect_chain[-1][0].startswith(reverse("partnercenter:two_step_verify"))
    assert client.get(reverse("dashboard:dashboard")).url.startswith(
        reverse("partnercenter:two_step_verify")
    )

    wrong = client.post(
        reverse("partnercenter:two_step_verify"), {"code": "123456", "next": "/history/"}
    )
    assert "That code is not right" in wrong.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    # A code already used at set-up is not accepted twice; wait for the next one.
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    ok = client.post(
        reverse("partnercenter:two_step_verify"), {"code": code_for(device), "next": "/history/"}
    )
    assert ok.status_code == 302
    assert ok.url == "/history/"
    assert client.get(reverse("dashboard:dashboard")).status_code == 200


@pytest.mark.parametrize("wanted", ["1", "dashboard", "a" * 256, "https://evil.example/", "//evil"])
def test_after_the_second_step_only_a_path_on_this_site_is_followed(client, db, wanted):
    client.force_login(factories.StaffUserFactory(roles=[Role.SALES_AGENT]))
    response = client.get(reverse("partnercenter:two_step_verify"), {"next": wanted})
    assert response.status_code == 302
    assert response.url == reverse("partnercenter:home")
    assert (
        client.get(reverse("partnercenter:two_step_verify"), {"next": "/history/"}).url
        == "/history/"
    )


def test_a_recovery_code_signs_in_once(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    _device, codes = set_up(client, user)
    client.post(reverse("partnercenter:logout"))

    for attempt in range(2):
        other = Client()
        other.post(LOGIN, {"username": user.username, "password": TEST_PASSWORD})
        response = other.post(
            reverse("partnercenter:two_step_verify"), {"code": codes[0].upper()}, follow=True
        )
        if attempt == 0:
            assert "You signed in with a recovery code; 9 left" in response.content.decode()
            assert other.get(reverse("dashboard:dashboard")).status_code == 200
        else:
            assert "That code is not right" in response.content.decode()
    assert StaticToken.objects.filter(device__user=user).count() == 9


def test_wrong_codes_are_throttled(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    device, _codes = set_up(client, user)
    client.post(reverse("partnercenter:logout"))
    client.post(LOGIN, {"username": user.username, "password": TEST_PASSWORD})
    client.post(reverse("partnercenter:two_step_verify"), {"code": "111111"})
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)
    response = client.post(reverse("partnercenter:two_step_verify"), {"code": code_for(device)})
    assert "Too many wrong codes" in response.content.decode()
    assert client.get(reverse("dashboard:dashboard")).status_code == 302


def test_demo_users_are_not_asked_for_two_step_verification(client, demo_world):
    response = client.post(
        LOGIN, {"username": "globaladmin", "password": DEMO_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard:dashboard")


def test_a_global_admin_cannot_turn_two_step_off_but_others_can(client, db):
    admin = factories.StaffUserFactory(roles=[Role.GLOBAL_ADMIN], two_step_exempt=False)
    client.force_login(admin)
    device, _codes = set_up(client, admin)
    page = client.get(reverse("partnercenter:two_step")).content.decode()
    assert "Global admins must keep two-step verification on" in page
    client.post(reverse("partnercenter:two_step_turn_off"), {"code": "000000"})
    assert TOTPDevice.objects.filter(user=admin, confirmed=True).exists()

    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    other = Client()
    other.force_login(user)
    device, _codes = set_up(other, user)
    refused = other.post(
        reverse("partnercenter:two_step_turn_off"), {"code": "000000"}, follow=True
    )
    assert "two-step verification stays on" in refused.content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=device.last_t - 1, throttling_failure_count=0
    )
    done = other.post(
        reverse("partnercenter:two_step_turn_off"), {"code": code_for(device)}, follow=True
    )
    assert "Two-step verification is off" in done.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_new_recovery_codes_replace_the_old_ones(client, db):
    user = factories.StaffUserFactory(roles=[Role.SALES_AGENT])
    client.force_login(user)
    _device, old = set_up(client, user)
    new = client.post(reverse("partnercenter:two_step_recovery_codes")).context["codes"]
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
    refused = client.post(
        reverse("partnercenter:user_two_step_reset", args=[admin.pk]), follow=True
    )
    assert "Only a global admin may change" in refused.content.decode()
    done = client.post(reverse("partnercenter:user_two_step_reset", args=[agent.pk]), follow=True)
    assert "Two-step verification of" in done.content.decode()
    assert not TOTPDevice.objects.filter(user=agent).exists()

    second_admin = factories.StaffUserFactory(partner=admin.partner, roles=[Role.GLOBAL_ADMIN])
    client.force_login(second_admin)
    client.post(reverse("partnercenter:user_two_step_reset", args=[admin.pk]))
    assert not TOTPDevice.objects.filter(user=admin).exists()
    again = Client()
    response = again.post(LOGIN, {"username": admin.username, "password": TEST_PASSWORD})
    assert again.get(response.url).url.startswith(reverse("partnercenter:two_step_setup"))


def test_the_users_page_shows_who_has_two_step_on(client, db):
    uma = factories.StaffUserFactory(roles=[Role.USER_MANAGEMENT_ADMIN])
    client.force_login(uma)
    set_up(client, uma)
    rows = client.get(reverse("partnercenter:user_list")).context["rows"]
    assert [(u.username, u.has_two_step) for u, _roles in rows] == [(uma.username, True)]
    assert User.objects.get(pk=uma.pk).two_step_exempt  # factory users are, like demo users
