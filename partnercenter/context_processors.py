from partnercenter.navigation import navigation_for


def navigation(request):
    """The navigation entries the signed-in user may use, and their capabilities by name."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": [], "capabilities": frozenset()}
    return {
        "navigation": navigation_for(user, request.path),
        "capabilities": frozenset(c.value for c in getattr(user, "capabilities", ())),
    }
