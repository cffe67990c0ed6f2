"""Sign-in protections: the lockout page (django-axes), the client's address, idle sessions."""

import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import render

from partnercenter.forms import SignInForm

SESSION_RENEWED_KEY = "renewed_at"


def lockout_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def locked_out(request, original_response=None, credentials=None):
    """The sign-in page again, saying that sign-in is locked for a while (HTTP 429)."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = SignInForm(request)
    form.initial["username"] = username.replace("\0", "")[: form.username_field.max_length]
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "locked_out": True,
            "lockout_minutes": lockout_minutes(),
            "next": request.POST.get("next", ""),
        },
        status=429,
    )


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind `SIGNIN_PROXY_COUNT` trusted proxies the
    address they saw (counted from the right of X-Forwarded-For, which a client can prepend
    to but not rewrite)."""
    proxies = settings.SIGNIN_PROXY_COUNT
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


@receiver(user_logged_in, dispatch_uid="partnercenter.signin.note_session_renewed")
def note_session_renewed(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_RENEWED_KEY] = int(time.time())


class SessionIdleTimeoutMiddleware:
    """A signed-in session lives SESSION_COOKIE_AGE (8 hours) after its last use.

    Saving the session renews its expiry; doing it on every request (SESSION_SAVE_EVERY_REQUEST)
    would write to the database on each click and keystroke search, so it is renewed at most
    every SESSION_RENEW_AFTER_SECONDS instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            renewed = request.session.get(SESSION_RENEWED_KEY, 0)
            if now - renewed >= settings.SESSION_RENEW_AFTER_SECONDS:
                request.session[SESSION_RENEWED_KEY] = now
        return self.get_response(request)
