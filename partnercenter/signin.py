"""Sign-in protections: the lockout page (django-axes), the client's address, idle sessions."""

import functools
import ipaddress
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
    response = render(
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
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


def client_ip(request) -> str | None:
    """The client's address, for throttling: REMOTE_ADDR, unless the request comes through
    reverse proxies that X-Forwarded-For is trusted from.

    X-Forwarded-For is read from the right: each proxy appends the address it saw, while a
    client can only prepend. With `SIGNIN_TRUSTED_PROXIES`, the header counts only on a request
    from one of them, and the client is the nearest address that is not a trusted proxy (at most
    `SIGNIN_PROXY_COUNT` hops back, when set). Without them, `SIGNIN_PROXY_COUNT` = N takes the
    Nth address from the right from whoever sent it. Whatever is not an IP address is ignored.
    """
    remote = request.META.get("REMOTE_ADDR")
    trusted = _networks(tuple(settings.SIGNIN_TRUSTED_PROXIES))
    proxies = settings.SIGNIN_PROXY_COUNT
    if not trusted and not proxies:
        return remote
    if trusted and not _within(remote, trusted):
        return remote  # not through our proxies: the header is whatever the client wrote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    client = None
    if not trusted:
        client = hops[-proxies] if len(hops) >= proxies else None
    else:
        for hop in reversed(hops[-proxies:] if proxies else hops):
            client = hop
            if not _within(hop, trusted):
                break
    return client if client is not None and _address(client) else remote


@functools.lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text: str | None):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(text: str | None, networks: tuple) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)


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
