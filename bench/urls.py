"""The product's URLs and a floor: the cheapest page behind the same middleware."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from partnercenter.access import signed_in
from partnercenter.root_urls import urlpatterns as product_urlpatterns


@require_GET
@signed_in
def floor(request):
    """A fixed answer after the whole middleware stack (session, user, two-step, CSP...): what
    any page costs before it does its own work."""
    return HttpResponse(b"floor\n", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *product_urlpatterns]
