"""Access policies for views. Every view declares one; a test fails on any view that does not.

A policy decorator records itself on the view as `access_policy` so the URLconf can be audited.
"""

from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied

from partnercenter.roles import Capability


def _mark(view, policy: str):
    view.access_policy = policy
    return view


def public(view):
    """Open to anyone, signed in or not (the sign-in page)."""
    return _mark(login_not_required(view), "public")


def api_token(view):
    """The API (under /v1/): a bearer token decides, never the session or the sign-in page."""
    return _mark(login_not_required(view), "api_token")


def signed_in(view):
    """Open to any signed-in user (the login requirement itself is global middleware)."""
    return _mark(view, "signed_in")


def requires(capability: Capability | str):
    """Partner staff holding `capability` (through any of their roles); others get 403."""
    capability = Capability(capability)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.can(capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return _mark(wrapper, f"capability:{capability}")

    return decorator


def customer_admin_required(view):
    """A customer's admin; partner staff get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_customer_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return _mark(wrapper, "customer_admin")


def partner_staff(view):
    """Any partner staff user, whatever their roles; customer admins get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_partner_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return _mark(wrapper, "partner_staff")
