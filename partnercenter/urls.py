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
    path("customers/", customer_views.customer_list, name="customer_list"),
    path("customers/<int:customer_id>/", customer_views.customer_detail, name="customer_detail"),
    path(
        "customers/<int:customer_id>/relationships/",
        customer_views.customer_relationships,
        name="customer_relationships",
    ),
    path(
        "customers/<int:customer_id>/subscriptions/<int:subscription_id>/",
        customer_views.subscription_detail,
        name="subscription_detail",
    ),
    path(
        "customers/<int:customer_id>/subscriptions/<int:subscription_id>/support-contact/",
        customer_views.subscription_support_contact,
        name="subscription_support_contact",
    ),
    path(
        "customers/<int:customer_id>/subscriptions/<int:subscription_id>/changes/<int:change_id>/",
        customer_views.support_contact_change,
        name="support_contact_change",
    ),
    path("admin/", customer_views.customer_admin_home, name="customer_admin_home"),
    path("admin/support/", customer_views.customer_support, name="customer_support"),
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
