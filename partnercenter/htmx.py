"""The one place that decides what an htmx request gets: the whole page or named partials."""

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails

from partnercenter.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request of a signed-in user: LoginRequiredMiddleware lets no other reach a view that
    is not public."""

    user: User


class HtmxHttpRequest(AuthenticatedHttpRequest):
    """A signed-in user's request that htmx may have sent (HtmxMiddleware sets `htmx`)."""

    htmx: HtmxDetails


def is_htmx_target(request, target_id: str) -> bool:
    """True for an htmx request aimed at `target_id` (a boosted navigation never is)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and htmx.target == target_id


def render_page(
    request,
    template: str,
    context: dict,
    *,
    partial: str,
    out_of_band: tuple[str, ...] = (),
    announcement: str = "",
):
    """The whole page; or, for an htmx request that targets `partial` (the id of the partial's
    root element), that partial with the page's messages in it, followed by the `out_of_band`
    partials, which htmx swaps in by their ids, and the outcome in one sentence for the page's
    live region: `announcement`, else the messages."""
    if is_htmx_target(request, partial):
        spoken = announcement or " ".join(str(message) for message in get_messages(request))
        html = render_to_string(
            f"{template}#{partial}", {**context, "messages_here": True}, request
        ) + "".join(
            render_to_string(f"{template}#{name}", {**context, "out_of_band": True}, request)
            for name in out_of_band
        )
        if spoken:
            html += render_to_string("includes/announcement.html", {"announcement": spoken})
        response = HttpResponse(html)
    else:
        response = TemplateResponse(request, template, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response
