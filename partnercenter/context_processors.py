from partnercenter.navigation import navigation_for


def navigation(request):
    """The navigation entries the signed-in user may use."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"navigation": navigation_for(user, request.path)}
