"""The root URLconf: the one place besides settings that knows every app."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from api.urls import not_found as api_not_found

handler400 = "partnercenter.error_views.bad_request"
handler403 = "partnercenter.error_views.permission_denied"
handler404 = "partnercenter.error_views.page_not_found"
handler500 = "partnercenter.error_views.server_error"

admin.site.site_header = _("partnercenter back office")
admin.site.site_title = _("partnercenter back office")

urlpatterns = [
    path("", include("partnercenter.urls")),
    path("", include("dashboard.urls")),
    path("", include("customers.urls")),
    path("", include("relationships.urls")),
    path("", include("notifications.urls")),
    path("backoffice/", admin.site.urls),
    path("", include("api.page_urls")),
    path("v1/", include("api.urls")),
    path("v1", api_not_found),  # not redirected to v1/: nothing under the API redirects
]
