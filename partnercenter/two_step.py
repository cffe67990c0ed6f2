"""Two-step verification: an authenticator app (TOTP) and recovery codes, through django-otp.

After the password, a user with an authenticator app must give a code before anything else
opens; a global admin without one (and not exempt) must set one up first. The step still to
do is kept in the (server-side) session at sign-in, so ordinary requests cost no query.

While an authenticator app is being set up, its secret lives in the session too: the device
is stored only once the app shows a right code, so opening the set-up page (a GET) writes
nothing to the database.
"""

import time
from datetime import UTC, datetime

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from partnercenter.errors import DomainError
from partnercenter.models import User
from partnercenter.services import check_manager, check_may_touch_global_admin
from partnercenter.tracing import change_log

PENDING_SESSION_KEY = "two_step_pending"
# The authenticator being set up: {"key": hex secret, "failures": n, "failed_at": unix time}.
SETUP_SESSION_KEY = "two_step_setup"
AUTHENTICATOR_NAME = "Authenticator app"
VERIFY, SET_UP = "verify", "set_up"
RECOVERY_CODE_COUNT = 10
# What a user with a step still to do may open.
OPEN_WHILE_PENDING = {
    VERIFY: {"partnercenter:two_step_verify", "partnercenter:logout"},
    SET_UP: {"partnercenter:two_step_setup", "partnercenter:two_step_qr", "partnercenter:logout"},
}


def authenticator(user: User) -> TOTPDevice | None:
    """The user's authenticator app, once set up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@receiver(user_logged_in, dispatch_uid="partnercenter.two_step.ask_for_the_second_step")
def ask_for_the_second_step(sender, request, user, **kwargs):
    """At sign-in, note the step still to do (if any) in the new session."""
    if request is None or not hasattr(request, "session"):
        return
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        request.session[PENDING_SESSION_KEY] = VERIFY
    elif user.two_step_required:
        request.session[PENDING_SESSION_KEY] = SET_UP


def pending_step(request) -> str | None:
    session = getattr(request, "session", None)
    return session.get(PENDING_SESSION_KEY) if session is not None else None


class TwoStepMiddleware:
    """Sends a signed-in user whose second step is still to do to that step, and nowhere else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        step = pending_step(request)
        if step is None or not request.user.is_authenticated:
            return None
        if request.resolver_match.view_name in OPEN_WHILE_PENDING.get(step, ()):
            return None
        url = reverse(
            "partnercenter:two_step_verify" if step == VERIFY else "partnercenter:two_step_setup"
        )
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return redirect(url)


def _complete(request, device) -> None:
    otp_login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)
    # A new session key once the second factor is in, as Django does after the password.
    request.session.cycle_key()


def code_verify(*, request, code: str):
    """Check a code from the authenticator app, or a recovery code (used up), and finish
    signing in. Wrong codes are throttled by django-otp (1, 2, 4, ... seconds)."""
    user = request.user
    code = "".join(code.split()).replace("-", "").lower()
    is_app_code = code.isdigit() and len(code) == 6
    with transaction.atomic():
        model = TOTPDevice if is_app_code else StaticDevice
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        allowed, _info = device.verify_is_allowed() if device else (True, None)
        verified = bool(device and allowed and device.verify_token(code))
    if not allowed:
        raise DomainError(_("Too many wrong codes. Wait a minute, then try again."))
    if not verified:
        raise DomainError(
            _(
                "That code is not right. Enter the 6-digit code your app shows now, "
                "or a recovery code."
            )
        )
    _complete(request, device)
    return device


def setup_device(request) -> TOTPDevice:
    """The authenticator being set up for the signed-in user, never saved here: its secret is
    kept in the session (a new one unless one is pending) until setup_confirm()."""
    pending = request.session.get(SETUP_SESSION_KEY)
    if not pending:
        pending = {"key": random_hex(20), "failures": 0, "failed_at": None}
        request.session[SETUP_SESSION_KEY] = pending
    return _device_from(pending, request.user)


def _device_from(pending: dict, user: User) -> TOTPDevice:
    failed_at = pending.get("failed_at")
    return TOTPDevice(
        user=user,
        name=AUTHENTICATOR_NAME,
        key=pending["key"],
        confirmed=True,
        throttling_failure_count=pending.get("failures", 0),
        throttling_failure_timestamp=(
            datetime.fromtimestamp(failed_at, tz=UTC) if failed_at is not None else None
        ),
    )


def setup_confirm(*, request, code: str) -> list[str]:
    """Turn two-step verification on once the app shows the right code: store the
    authenticator and return the new recovery codes (shown once). Wrong codes are throttled
    like django-otp's (1, 2, 4, ... seconds)."""
    user = request.user
    pending = request.session.get(SETUP_SESSION_KEY)
    if not pending:
        raise DomainError(_("Start the set-up again: the page was out of date."))
    device = _device_from(pending, user)
    if not device.verify_is_allowed()[0]:
        raise DomainError(_("Too many wrong codes. Wait a minute, then try again."))
    code = "".join(code.split())
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if not (code.isdigit() and len(code) == 6 and totp.verify(int(code), device.tolerance)):
        request.session[SETUP_SESSION_KEY] = {
            **pending,
            "failures": pending.get("failures", 0) + 1,
            "failed_at": time.time(),
        }
        raise DomainError(_("That code is not right. Enter the 6-digit code your app shows now."))
    # The code just used is not accepted again at sign-in.
    device.last_t = totp.t()
    device.drift = totp.drift
    device.throttle_reset(commit=False)
    with transaction.atomic():
        # One confirmation at a time per user, so that two tabs cannot store two apps.
        User.objects.select_for_update().get(pk=user.pk)
        if authenticator(user) is not None:
            request.session.pop(SETUP_SESSION_KEY, None)
            raise DomainError(_("Two-step verification is already on."))
        # Unconfirmed devices left by set-ups started before secrets were kept in the session.
        TOTPDevice.objects.filter(user=user).delete()
        device.save()
        codes = _new_recovery_codes(user)
        change_log("user.two_step_turned_on", user=user.pk)
    request.session.pop(SETUP_SESSION_KEY, None)
    _complete(request, device)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def recovery_codes_renew(*, user: User) -> list[str]:
    """New recovery codes; the old ones stop working."""
    with transaction.atomic():
        if authenticator(user) is None:
            raise DomainError(_("Set up two-step verification first."))
        change_log("user.recovery_codes_renewed", user=user.pk)
        return _new_recovery_codes(user)


def _remove_devices(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_step_turn_off(*, request, code: str) -> None:
    """Turn off one's own two-step verification, confirmed with a current code."""
    user = request.user
    if user.two_step_required:
        raise DomainError(_("Global admins must keep two-step verification on."))
    code = "".join(code.split())
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        allowed = device is not None and device.verify_is_allowed()[0]
        verified = allowed and device.verify_token(code)
    if device is not None and not allowed:
        raise DomainError(_("Too many wrong codes. Wait a minute, then try again."))
    if not verified:
        raise DomainError(_("That code is not right; two-step verification stays on."))
    with transaction.atomic():
        _remove_devices(user)
        change_log("user.two_step_turned_off", user=user.pk)
    request.session.pop(DEVICE_ID_SESSION_KEY, None)


def two_step_reset(*, user: User, by: User) -> None:
    """An admin turns off someone's two-step verification (a lost phone). A global admin
    is asked to set it up again at their next sign-in."""
    check_manager(by, user.partner_id)
    if user.pk == by.pk:
        raise DomainError(
            _("Turn off your own two-step verification on your Two-step verification page.")
        )
    check_may_touch_global_admin(by, user)
    with transaction.atomic():
        _remove_devices(user)
        change_log("user.two_step_reset", user=user.pk)
