from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, register_converter, reverse_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from customers import history_views, partnership_views, relationship_views
from customers import views as customer_views
from dashboard import views as dashboard_views
from partnercenter import two_step_views, user_views, views
from partnercenter.access import public, signed_in
from partnercenter.forms import SetPasswordForm, SignInForm
from partnercenter.i18n import set_language
from relationships import partnership_views as partnership_answers
from relationships import portal_views
from relationships.models import InvitationTokenConverter

register_converter(InvitationTokenConverter, "token")

admin.site.site_header = _("partnercenter back office")
admin.site.site_title = _("partnercenter back office")

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("access/", views.my_access, name="my_access"),
    path("customers/", customer_views.customer_list, name="customer_list"),
    path("customers/<int:customer_id>/", customer_views.customer_detail, name="customer_detail"),
    path(
        "customers/<int:customer_id>/relationships/",
        relationship_views.customer_relationships,
        name="customer_relationships",
    ),
    path(
        "customers/<int:customer_id>/relationships/request/",
        relationship_views.relationship_request_new,
        name="relationship_request_new",
    ),
    path(
        "customers/<int:customer_id>/relationships/requests/<int:request_id>/",
        relationship_views.relationship_request_detail,
        name="relationship_request_detail",
    ),
    path(
        "customers/<int:customer_id>/relationships/<int:relationship_id>/remove/",
        relationship_views.relationship_remove,
        name="relationship_remove",
    ),
    path(
        "customers/<int:customer_id>/relationships/<int:relationship_id>/give-up-dap/",
        relationship_views.relationship_give_up_dap,
        name="relationship_give_up_dap",
    ),
    path("partners/", partnership_views.partnerships, name="partnerships"),
    path("partners/request/", partnership_views.partnership_request, name="partnership_request"),
    path(
        "partners/<int:partnership_id>/accept/",
        partnership_answers.partnership_accept,
        name="partnership_accept",
    ),
    path(
        "partners/<int:partnership_id>/decline/",
        partnership_answers.partnership_decline,
        name="partnership_decline",
    ),
    path(
        "partners/<int:partnership_id>/remove/",
        partnership_views.partnership_remove,
        name="partnership_remove",
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
    path("history/", history_views.history, name="history"),
    path("history/export.csv", history_views.history_export, name="history_export"),
    path("users/", user_views.user_list, name="user_list"),
    path("users/add/", user_views.user_add, name="user_add"),
    path("users/<int:user_id>/", user_views.user_detail, name="user_detail"),
    path("users/<int:user_id>/roles/", user_views.user_roles, name="user_roles"),
    path("users/<int:user_id>/deactivate/", user_views.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", user_views.user_reactivate, name="user_reactivate"),
    path(
        "users/<int:user_id>/set-password-link/",
        user_views.user_set_password_link,
        name="user_set_password_link",
    ),
    path(
        "users/<int:user_id>/two-step-reset/",
        user_views.user_two_step_reset,
        name="user_two_step_reset",
    ),
    path("support-profile/", user_views.support_profile, name="support_profile"),
    path(
        "support-profile/update/",
        user_views.support_profile_update,
        name="support_profile_update",
    ),
    path("admin/", customer_views.customer_admin_home, name="customer_admin_home"),
    path("admin/support/", customer_views.customer_support, name="customer_support"),
    path(
        "admin/relationships/",
        portal_views.customer_partner_relationships,
        name="customer_partner_relationships",
    ),
    path(
        "admin/relationships/requests/<int:request_id>/accept/",
        portal_views.invitation_accept,
        name="invitation_accept",
    ),
    path(
        "admin/relationships/requests/<int:request_id>/decline/",
        portal_views.invitation_decline,
        name="invitation_decline",
    ),
    path(
        "admin/relationships/<int:relationship_id>/remove-dap/",
        relationship_views.delegated_admin_remove,
        name="delegated_admin_remove",
    ),
    path(
        "admin/relationships/<int:relationship_id>/end/",
        relationship_views.customer_relationship_end,
        name="customer_relationship_end",
    ),
    path("invitations/<token:token>/", portal_views.invitation, name="invitation"),
    path(
        "accounts/login/",
        public(
            auth_views.LoginView.as_view(
                redirect_authenticated_user=True, authentication_form=SignInForm
            )
        ),
        name="login",
    ),
    path("accounts/logout/", signed_in(auth_views.LogoutView.as_view()), name="logout"),
    # New users set their first password through Django's password-reset token.
    path(
        "accounts/set-password/<uidb64>/<token>/",
        public(
            auth_views.PasswordResetConfirmView.as_view(
                template_name="registration/set_password.html",
                form_class=SetPasswordForm,
                success_url=reverse_lazy("password_set_done"),
            )
        ),
        name="password_set",
    ),
    path(
        "accounts/set-password/done/",
        public(
            auth_views.PasswordResetCompleteView.as_view(
                template_name="registration/set_password_done.html"
            )
        ),
        name="password_set_done",
    ),
    path("accounts/two-step/", two_step_views.two_step_overview, name="two_step"),
    path("accounts/two-step/set-up/", two_step_views.two_step_setup, name="two_step_setup"),
    path("accounts/two-step/qr.svg", two_step_views.two_step_qr, name="two_step_qr"),
    path("accounts/two-step/verify/", two_step_views.two_step_verify, name="two_step_verify"),
    path(
        "accounts/two-step/recovery-codes/",
        two_step_views.two_step_recovery_codes,
        name="two_step_recovery_codes",
    ),
    path(
        "accounts/two-step/turn-off/",
        two_step_views.two_step_turn_off,
        name="two_step_turn_off",
    ),
    # One sign-in page for everyone, so its protections also guard the back office.
    path(
        "backoffice/login/",
        public(RedirectView.as_view(pattern_name="login", query_string=True)),
        name="backoffice_login",
    ),
    path("backoffice/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),
]
