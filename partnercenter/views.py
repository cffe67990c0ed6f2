"""Sign-in landing, and My access: the page that explains what each user may do, and where
they choose the time zone their times are shown in."""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from partnercenter import time_zones, two_step
from partnercenter.access import signed_in
from partnercenter.errors import DomainError
from partnercenter.forms import TimeZoneForm
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.policy import reach_of
from partnercenter.roles import CAPABILITY_TABLE, Capability, Role


@require_GET
@signed_in
def home(request: AuthenticatedHttpRequest):
    """Send each signed-in user to where their work starts."""
    user = request.user
    if user.is_customer_admin:
        return redirect("customers:customer_admin_home")
    if user.can(Capability.VIEW_CUSTOMERS):
        return redirect("dashboard:dashboard")
    if user.is_partner_staff:
        return redirect("partnercenter:my_access")
    return TemplateResponse(request, "partnercenter/no_organisation.html")


def _zone_with_offset(zone: str) -> str:
    """The zone and its offset now: "Europe/Budapest (UTC+01:00)"; "UTC" alone."""
    offset = time_zones.zone_label(timezone.localtime())
    return zone if offset == zone else f"{zone} ({offset})"


@require_http_methods(["GET", "POST"])
@signed_in
def my_access(request: AuthenticatedHttpRequest):
    """The user's roles and the whole capability table, and their time zone (POST: choose
    it); home for staff who see no customers."""
    zone = timezone.get_current_timezone_name()
    chosen = request.user.time_zone if request.user.time_zone in time_zones.zone_names() else ""
    form = TimeZoneForm(request.POST if request.method == "POST" else None, current=chosen)
    if form.is_valid():
        choice = form.cleaned_data["time_zone"]
        try:
            time_zones.user_time_zone_set(user=request.user, time_zone=choice)
        except DomainError as error:
            form.add_error("time_zone", error.message)
        else:
            messages.success(
                request,
                _("Times are now shown in %(zone)s.") % {"zone": choice}
                if choice
                else _("Times are now shown in your browser’s time zone."),
            )
            return redirect("partnercenter:my_access")
    roles = request.user.roles
    rows = [
        (capability, [role in granted for role in Role], capability in request.user.capabilities)
        for capability, granted in CAPABILITY_TABLE.items()
    ]
    return TemplateResponse(
        request,
        "partnercenter/my_access.html",
        {
            "roles": [r for r in Role if r in roles],
            "all_roles": list(Role),
            "rows": rows,
            "two_step_on": two_step.authenticator(request.user) is not None,
            "reach": reach_of(request.user),
            "time_zone_form": form,
            "time_zone": _zone_with_offset(zone),
            "time_zone_source": time_zones.zone_of(request)[1],
        },
    )
