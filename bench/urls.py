"""The product's URLs and the floors: the cheapest answers behind the same middleware."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from api.auth import BearerToken
from api.errors import ApiError, error_response
from partnercenter.access import api_token, signed_in
from partnercenter.root_urls import urlpatterns as product_urlpatterns

JSON = "application/json"


@require_GET
@signed_in
def floor(request):
    """A fixed answer after the whole middleware stack (session, user, two-step, CSP...): what
    any page costs before it does its own work."""
    return HttpResponse(b"floor\n", content_type="text/plain")


@require_GET
@api_token
def api_floor(request):
    """A fixed JSON answer under /v1/, after the same middleware as every API call (cookies
    dropped, request ids, language, no-store): what any call costs before it authenticates."""
    return HttpResponse(b"{}", content_type=JSON)


_bearer = BearerToken()


@require_GET
@api_token
def api_floor_token(request):
    """The API floor and the API's bearer-token check (its one query): what any call costs
    before django-ninja and the endpoint do their own work."""
    try:
        _bearer(request)
    except ApiError as error:
        return error_response(error)
    return HttpResponse(b"{}", content_type=JSON)


urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    path("v1/bench/floor/", api_floor, name="bench_api_floor"),
    path("v1/bench/floor/token/", api_floor_token, name="bench_api_floor_token"),
    *product_urlpatterns,
]
