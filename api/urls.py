"""/v1/: the API's endpoints, each with and without a trailing slash, and a JSON 404 for every
other path under it (no APPEND_SLASH redirect, no sign-in page)."""

from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from api import errors
from api.endpoints import api
from partnercenter.access import api_token
from partnercenter.plans import plan_once

# The calls that find one subscription by its ids (and the customer's): their statements may
# keep their plans (partnercenter/plans.py). Every list and search is planned for its values.
ONE_SUBSCRIPTION = {"subscription_get", "support_contact_get"}


def _both_ways(patterns):
    """Each route once (ninja lists one per operation), with and without its slash; not
    ninja's API root, which is one more unknown path here."""
    seen = set()
    for pattern in patterns:
        route = str(pattern.pattern)
        if not route or route in seen:
            continue
        seen.add(route)
        view = api_token(pattern.callback)
        if pattern.name in ONE_SUBSCRIPTION:
            view = plan_once(view)
        yield path(route, view, name=pattern.name)
        yield path(f"{route}/", view)


@api_token
@csrf_exempt
def not_found(request, rest=""):
    return errors.error_response(errors.NotFound())


ninja_patterns, app_name, namespace = api.urls
app_name = "api"
urlpatterns = [*_both_ways(ninja_patterns), re_path(r"^(?P<rest>.*)$", not_found)]
