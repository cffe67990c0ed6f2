"""Every URL of the product, with sample arguments, for tests that must cover them all."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter, SlugConverter, StringConverter, UUIDConverter

SAMPLE_ARGUMENTS = {
    IntConverter: "1",
    UUIDConverter: "00000000-0000-4000-8000-000000000000",
    SlugConverter: "sample",
    StringConverter: "sample",
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
        path = path.replace(f"<{type(converter).__name__}:{name}>", sample)
        for prefix in ("int", "uuid", "slug", "str", "path"):
            path = path.replace(f"<{prefix}:{name}>", sample)
        path = path.replace(f"<{name}>", sample)
    return "/" + path


def product_routes() -> list[Route]:
    """The product's own URLs (the Django admin back office has its own policy)."""
    return [
        Route(pattern.name or route, _sample_path(route, pattern), pattern.callback)
        for route, pattern in _walk(get_resolver().url_patterns)
        if not route.startswith(BACK_OFFICE_PREFIX)
    ]
