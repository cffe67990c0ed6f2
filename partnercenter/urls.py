from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

from partnercenter import api_token_views, health_views, two_step_views, user_views, views
from partnercenter.access import public, signed_in
from partnercenter.forms import SetPasswordForm, SignInForm
from partnercenter.i18n import set_language

app_name = "partnercenter"

USER = "users/<int:user_id>/"
TWO_STEP = "accounts/two-step/"

urlpatterns = [
    path("", views.home, name="home"),
    path("access/", views.my_access, name="my_access"),
    path("users/", user_views.user_list, name="user_list"),
    path("users/add/", user_views.user_add, name="user_add"),
    path(USER, user_views.user_detail, name="user_detail"),
    path(USER + "roles/", user_views.user_roles, name="user_roles"),
    path(
        USER + "deactivate/",
        user_views.user_action,
        {"action": "deactivate"},
        name="user_deactivate",
    ),
    path(
        USER + "reactivate/",
        user_views.user_action,
        {"action": "reactivate"},
        name="user_reactivate",
    ),
    path(
        USER + "set-password-link/",
        user_views.user_set_password_link,
        name="user_set_password_link",
    ),
    path(
        USER + "two-step-reset/",
        user_views.user_action,
        {"action": "two_step_reset"},
        name="user_two_step_reset",
    ),
    path("support-profile/", user_views.support_profile, name="support_profile"),
    path(
        "support-profile/update/",
        user_views.support_profile_update,
        name="support_profile_update",
    ),
    path("api-tokens/", api_token_views.api_tokens, name="api_tokens"),
    path(
        "api-tokens/<int:token_id>/revoke/",
        api_token_views.api_token_revoke,
        name="api_token_revoke",
    ),
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
                success_url=reverse_lazy("partnercenter:password_set_done"),
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
    path(TWO_STEP, two_step_views.two_step_overview, name="two_step"),
    path(TWO_STEP + "set-up/", two_step_views.two_step_setup, name="two_step_setup"),
    path(TWO_STEP + "qr.svg", two_step_views.two_step_qr, name="two_step_qr"),
    path(TWO_STEP + "verify/", two_step_views.two_step_verify, name="two_step_verify"),
    path(
        TWO_STEP + "recovery-codes/",
        two_step_views.two_step_recovery_codes,
        name="two_step_recovery_codes",
    ),
    path(TWO_STEP + "turn-off/", two_step_views.two_step_turn_off, name="two_step_turn_off"),
    # One sign-in page for everyone, so its protections also guard the back office.
    path(
        "backoffice/login/",
        public(RedirectView.as_view(pattern_name="partnercenter:login", query_string=True)),
        name="backoffice_login",
    ),
    path("i18n/setlang/", set_language, name="set_language"),
    # Probed by load balancers and orchestrators: no trailing slash, as they are usually written.
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
]
