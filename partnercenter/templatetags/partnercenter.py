from functools import lru_cache

from django import template
from django.conf import settings
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, get_language_info

from partnercenter import time_zones
from partnercenter.phones import international_format

register = template.Library()

SELECTED = mark_safe(" selected")


@register.filter
def phone(value: str) -> str:
    """A stored E.164 phone number in international form, for reading."""
    return international_format(value)


@register.filter(name="local_datetime")
def local_datetime(value) -> str:
    """A moment as people read it: the active language's format, the user's zone, named."""
    return time_zones.local_datetime(value) if value else ""


@register.filter(name="local_date")
def local_date(value) -> str:
    """The day of a moment in the user's zone, in the active language's format."""
    return time_zones.local_date(value) if value else ""


@register.simple_tag
def language_options() -> SafeString:
    """The language menu's options, each named in its own language, the current one selected."""
    return _language_options(tuple(code for code, _name in settings.LANGUAGES), get_language())


@lru_cache(maxsize=64)
def _language_options(codes: tuple[str, ...], current: str | None) -> SafeString:
    # The same on every page: built once per current language, not on every request.
    return format_html_join(
        "",
        '<option value="{}" lang="{}"{}>{}</option>',
        (
            (code, code, SELECTED if code == current else "", get_language_info(code)["name_local"])
            for code in codes
        ),
    )
