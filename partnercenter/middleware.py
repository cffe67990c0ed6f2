"""Response headers that every page of a signed-in user needs."""

from django.utils.cache import patch_cache_control


class PrivatePagesMiddleware:
    """A signed-in user's pages and partials are never stored by a browser or a proxy: on a
    shared computer, the back button after sign-out must not show them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
