"""Pages for two-step verification: set it up, give a code at sign-in, recovery codes."""

from base64 import b32encode
from io import BytesIO

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.qr import write_qrcode_image

from partnercenter import two_step
from partnercenter.access import signed_in
from partnercenter.errors import DomainError
from partnercenter.forms import PlainLabels
from partnercenter.htmx import AuthenticatedHttpRequest


class CodeForm(PlainLabels, forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
        error_messages={"required": gettext_lazy("Enter the code.")},
    )


def _next_url(request: AuthenticatedHttpRequest) -> str:
    """Where to go after this step: a path on this site, else home. (Only a path: redirect()
    would take anything else, such as "1", for the name of a view.)"""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return resolve_url("partnercenter:home")


@require_GET
@signed_in
@never_cache
def two_step_overview(request: AuthenticatedHttpRequest):
    """Whether two-step verification is on, with ways to set it up, renew codes or turn it off."""
    device = two_step.authenticator(request.user)
    return TemplateResponse(
        request,
        "partnercenter/two_step.html",
        {
            "device": device,
            "codes_left": two_step.recovery_codes_left(request.user) if device else 0,
            "form": CodeForm(),
        },
    )


@require_http_methods(["GET", "POST"])
@signed_in
@never_cache
def two_step_setup(request: AuthenticatedHttpRequest):
    """Scan the QR code (or type the key) into an authenticator app, then confirm a code."""
    if two_step.authenticator(request.user) is not None:
        messages.info(request, _("Two-step verification is already on."))
        return redirect("partnercenter:two_step")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_step.setup_confirm(request=request, code=form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            messages.success(request, _("Two-step verification is on."))
            return _codes_page(request, codes, next_url=_next_url(request))
    key = b32encode(two_step.setup_device(request).bin_key).decode()
    return TemplateResponse(
        request,
        "partnercenter/two_step_setup.html",
        {
            "form": form,
            "key": " ".join(key[i : i + 4] for i in range(0, len(key), 4)),
            "required": request.user.two_step_required,
            "next": _next_url(request),
        },
    )


@require_GET
@signed_in
@never_cache
def two_step_qr(request: AuthenticatedHttpRequest):
    """The QR code (SVG) of the authenticator being set up: its secret, so never cached."""
    if two_step.authenticator(request.user) is not None:
        raise Http404
    device = two_step.setup_device(request)
    image = BytesIO()
    write_qrcode_image(device.config_url, image)
    return HttpResponse(image.getvalue(), content_type="image/svg+xml")


def _codes_page(request: AuthenticatedHttpRequest, codes, *, next_url):
    return TemplateResponse(
        request,
        "partnercenter/two_step_codes.html",
        {"codes": codes, "next": next_url},
    )


@require_http_methods(["GET", "POST"])
@signed_in
@never_cache
def two_step_verify(request: AuthenticatedHttpRequest):
    """The second step of signing in: a code from the authenticator app or a recovery code."""
    if two_step.pending_step(request) != two_step.VERIFY:
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_step.code_verify(request=request, code=form.cleaned_data["code"])
        except DomainError as error:
            form.add_error("code", error.message)
        else:
            if isinstance(device, StaticDevice):
                messages.warning(
                    request,
                    _(
                        "You signed in with a recovery code; %(left)s left. Make new ones on "
                        "your Two-step verification page."
                    )
                    % {"left": two_step.recovery_codes_left(request.user)},
                )
            return redirect(_next_url(request))
    return TemplateResponse(
        request,
        "partnercenter/two_step_verify.html",
        {"form": form, "next": _next_url(request)},
    )


@require_POST
@signed_in
@never_cache
def two_step_recovery_codes(request: AuthenticatedHttpRequest):
    """New recovery codes, shown once; the old ones stop working."""
    try:
        codes = two_step.recovery_codes_renew(user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("partnercenter:two_step")
    messages.success(request, _("New recovery codes were made; the old ones no longer work."))
    return _codes_page(request, codes, next_url=resolve_url("partnercenter:two_step"))


@require_POST
@signed_in
def two_step_turn_off(request: AuthenticatedHttpRequest):
    """Turn off one's own two-step verification, confirmed with a current code."""
    form = CodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a code from your authenticator app to turn it off."))
        return redirect("partnercenter:two_step")
    try:
        two_step.two_step_turn_off(request=request, code=form.cleaned_data["code"])
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Two-step verification is off."))
    return redirect("partnercenter:two_step")
