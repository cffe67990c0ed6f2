"""Sign-in landing, and My access: the page that explains what each user may do."""

from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from partnercenter import two_step
from partnercenter.access import signed_in
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


@require_GET
@signed_in
def my_access(request: AuthenticatedHttpRequest):
    """The user's roles and the whole capability table; home for staff who see no customers."""
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
        },
    )
