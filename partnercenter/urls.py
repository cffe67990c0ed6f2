from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from customers import views as customer_views
from partnercenter import views
from partnercenter.access import public, signed_in

admin.site.site_header = "partnercenter back office"
admin.site.site_title = "partnercenter back office"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("access/", views.my_access, name="my_access"),
    path("admin/", customer_views.customer_admin_home, name="customer_admin_home"),
    path(
        "accounts/login/",
        public(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("accounts/logout/", signed_in(auth_views.LogoutView.as_view()), name="logout"),
    # One sign-in page for everyone, so its protections also guard the back office.
    path(
        "backoffice/login/",
        public(RedirectView.as_view(pattern_name="login", query_string=True)),
        name="backoffice_login",
    ),
    path("backoffice/", admin.site.urls),
]
