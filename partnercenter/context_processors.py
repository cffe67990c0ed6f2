from partnercenter.navigation import navigation_for
from partnercenter.two_step import pending_step


def navigation(request):
    """The navigation entries the signed-in user may use (none until sign-in is complete)."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    if pending_step(request):
        return {"navigation": [], "sign_in_pending": True}
    return {"navigation": navigation_for(user, request.path)}
