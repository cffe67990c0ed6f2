"""Two-step verification: an authenticator app (TOTP) and recovery codes, through django-otp.

After the password, a user with an authenticator app must give a code before anything else
opens; a global admin without one (and not exempt) must set one up first. The step still to
do is kept in the (server-side) session at sign-in, so ordinary requests cost no query.
"""

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from partnercenter.models import User
from partnercenter.roles import Capability, Role
from partnercenter.services import PartnerAdminError

PENDING_SESSION_KEY = "two_step_pending"
VERIFY, SET_UP = "verify", "set_up"
RECOVERY_CODE_COUNT = 10
# What a user with a step still to do may open.
OPEN_WHILE_PENDING = {
    VERIFY: {"two_step_verify", "logout"},
    SET_UP: {"two_step_setup", "two_step_qr", "logout"},
}


class TwoStepError(PartnerAdminError):
    """A refused code or change; `message` says why, for the user."""


def authenticator(user: User, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


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
        if request.resolver_match.url_name in OPEN_WHILE_PENDING.get(step, ()):
            return None
        url = reverse("two_step_verify" if step == VERIFY else "two_step_setup")
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
        raise TwoStepError(_("Too many wrong codes. Wait a minute, then try again."))
    if not verified:
        raise TwoStepError(
            _(
                "That code is not right. Enter the 6-digit code your app shows now, "
                "or a recovery code."
            )
        )
    _complete(request, device)
    return device


def setup_start(*, user: User) -> TOTPDevice:
    """The authenticator being set up for `user` (a new secret unless one is pending)."""
    pending = authenticator(user, confirmed=False)
    if pending is not None:
        return pending
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def setup_confirm(*, request, code: str) -> list[str]:
    """Turn two-step verification on once the app shows the right code; return the new
    recovery codes (shown once)."""
    user = request.user
    code = "".join(code.split())
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("pk")
            .first()
        )
        if device is None:
            raise TwoStepError(_("Start the set-up again: the page was out of date."))
        allowed = device.verify_is_allowed()[0]
        verified = allowed and code.isdigit() and len(code) == 6 and device.verify_token(code)
        if verified:
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _new_recovery_codes(user)
    if not allowed:
        raise TwoStepError(_("Too many wrong codes. Wait a minute, then try again."))
    if not verified:
        raise TwoStepError(_("That code is not right. Enter the 6-digit code your app shows now."))
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
            raise TwoStepError(_("Set up two-step verification first."))
        return _new_recovery_codes(user)


def _remove_devices(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_step_turn_off(*, request, code: str) -> None:
    """Turn off one's own two-step verification, confirmed with a current code."""
    user = request.user
    if user.two_step_required:
        raise TwoStepError(_("Global admins must keep two-step verification on."))
    code = "".join(code.split())
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        allowed = device is not None and device.verify_is_allowed()[0]
        verified = allowed and device.verify_token(code)
    if device is not None and not allowed:
        raise TwoStepError(_("Too many wrong codes. Wait a minute, then try again."))
    if not verified:
        raise TwoStepError(_("That code is not right; two-step verification stays on."))
    with transaction.atomic():
        _remove_devices(user)
    request.session.pop(DEVICE_ID_SESSION_KEY, None)


def two_step_reset(*, user: User, by: User) -> None:
    """An admin turns off someone's two-step verification (a lost phone). A global admin
    is asked to set it up again at their next sign-in."""
    if not (by.partner_id == user.partner_id and by.can(Capability.MANAGE_USERS)):
        raise TwoStepError(_("You may not manage the users of this partner."))
    if user.pk == by.pk:
        raise TwoStepError(
            _("Turn off your own two-step verification on your Two-step verification page.")
        )
    if Role.GLOBAL_ADMIN in user.roles and Role.GLOBAL_ADMIN not in by.roles:
        raise TwoStepError(_("Only a global admin may change the account of another global admin."))
    with transaction.atomic():
        _remove_devices(user)
