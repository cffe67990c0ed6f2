"""Every URL of the product, with sample arguments, for tests that must cover them all."""

import re
from dataclasses import dataclass, field

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
API_PREFIX = "v1"  # the API (v1/ and v1 itself) has its own nets: tests/test_api_*.py


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, as `reverse()` takes it: "customers:customer_detail"
    pattern: str  # the route as written in the URLconfs, prefixes joined
    view: object
    converters: dict = field(default_factory=dict, compare=False)

    def __str__(self):
        return self.name or self.pattern

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.converters)

    def takes_int(self, param: str) -> bool:
        return isinstance(self.converters[param], IntConverter)

    def url(self, **values) -> str:
        """This route with the given path arguments, taken as they are (even ones that
        `reverse()` would refuse), so tests can forge what a browser could send."""
        return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), self.pattern)

    @property
    def path(self) -> str:
        """The route with a sample argument of the right kind in every slot."""
        samples = {name: SAMPLE_ARGUMENTS[type(c)] for name, c in self.converters.items()}
        return self.url(**samples)


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), namespace, entry


def product_routes() -> list[Route]:
    """The product's own pages (the Django admin back office and the API have their own)."""
    routes = []
    for route, namespace, pattern in _walk(get_resolver().url_patterns):
        if route.startswith((BACK_OFFICE_PREFIX, API_PREFIX)):
            continue
        name = namespace + pattern.name if pattern.name else ""
        # The root URLconf includes every app at "", so only the pattern itself has converters.
        routes.append(Route(name, route, pattern.callback, dict(pattern.pattern.converters)))
    return routes
