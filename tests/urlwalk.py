"""Every URL of the product, with sample arguments, for tests that must cover them all."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, SlugConverter, StringConverter, UUIDConverter

from relationships.models import InvitationTokenConverter

SAMPLE_ARGUMENTS = {
    IntConverter: "1",
    UUIDConverter: "00000000-0000-4000-8000-000000000000",
    SlugConverter: "sample",
    StringConverter: "sample",
    InvitationTokenConverter: "sample-invitation-token",
}
BACK_OFFICE_PREFIX = "backoffice/"


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    view: object

    def __str__(self):
        return self.name or self.path


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _sample_path(route: str, pattern: URLPattern) -> str:
    path = route
    for name, converter in pattern.pattern.converters.items():
        sample = SAMPLE_ARGUMENTS[type(converter)]
        path = re.sub(rf"<(?:\w+:)?{name}>", sample, path)
    return "/" + path


def product_routes() -> list[Route]:
    """The product's own URLs (the Django admin back office has its own policy)."""
    return [
        Route(pattern.name or route, _sample_path(route, pattern), pattern.callback)
        for route, pattern in _walk(get_resolver().url_patterns)
        if not route.startswith(BACK_OFFICE_PREFIX)
    ]
