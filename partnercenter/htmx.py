"""Small htmx helpers shared by views."""

from django.template.response import TemplateResponse
from django.utils.cache import patch_vary_headers


def is_htmx_target(request, target_id: str) -> bool:
    """True for an htmx request aimed at `target_id` (a boosted navigation never is)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and htmx.target == target_id


def render_page(request, template: str, context: dict, *, partial: str) -> TemplateResponse:
    """The whole page, or only its `partial` when an htmx request targets the partial's id."""
    name = f"{template}#{partial}" if is_htmx_target(request, partial) else template
    response = TemplateResponse(request, name, context)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response
