from django.utils.functional import SimpleLazyObject

from partnercenter.navigation import navigation_for
from partnercenter.two_step import pending_step


def navigation(request):
    """The navigation entries the signed-in user may use (none until sign-in is complete),
    and their capabilities by name. Both lazy: a template that shows neither (an htmx
    partial) does not pay for them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": [], "capabilities": frozenset()}
    if pending_step(request):
        return {"navigation": [], "capabilities": frozenset(), "sign_in_pending": True}
    return {
        "navigation": SimpleLazyObject(lambda: navigation_for(user, request.path)),
        "capabilities": SimpleLazyObject(
            lambda: frozenset(c.value for c in getattr(user, "capabilities", ()))
        ),
    }
