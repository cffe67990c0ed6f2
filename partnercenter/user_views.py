"""Users: the partner's own staff, their roles and state; the partner's support profile."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from partnercenter import services, two_step
from partnercenter.access import requires
from partnercenter.errors import DomainError, told
from partnercenter.forms import SupportProfileForm, UserAddForm, UserRolesForm
from partnercenter.htmx import AuthenticatedHttpRequest
from partnercenter.models import NotificationTopic, Partner, RoleChange, User
from partnercenter.policy import Action
from partnercenter.roles import Capability, Role

USERS_PER_PAGE = 50
ROLE_CHANGES_SHOWN = 20


def _with_two_step(users):
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return users.annotate(has_two_step=Exists(confirmed))


def _sorted_roles(user: User) -> list[Role]:
    held = {a.role for a in user.role_assignments.all()}
    return [r for r in Role if r in held]


def _site_url(request: AuthenticatedHttpRequest) -> str:
    return request.build_absolute_uri("/")


def add_validation_error(form, error: ValidationError) -> None:
    """Attach a model's ValidationError to the form fields of the same name, or the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@require_GET
@requires(Capability.MANAGE_USERS)
def user_list(request: AuthenticatedHttpRequest):
    """The partner's own staff with their roles, state and two-step verification."""
    users = (
        _with_two_step(User.objects.restrict(request.user, Action.MANAGE))
        .prefetch_related("role_assignments")
        .order_by("-is_active", "last_name", "first_name", "username")
    )
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(user, _sorted_roles(user)) for user in page.object_list]
    return TemplateResponse(request, "partnercenter/user_list.html", {"page": page, "rows": rows})


@require_http_methods(["GET", "POST"])
@requires(Capability.MANAGE_USERS)
def user_add(request: AuthenticatedHttpRequest):
    """Add a staff user with roles; they get an email with a link to set a password."""
    form = UserAddForm(request.POST or None, by=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_invite(
                partner=request.user.partner,
                by=request.user,
                site_url=_site_url(request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            add_validation_error(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("%(user)s was added. A link to set a password was sent to %(email)s.")
                % {"user": user.get_full_name(), "email": user.email},
            )
            return redirect("partnercenter:user_detail", user.pk)
    return TemplateResponse(request, "partnercenter/user_add.html", {"form": form})


def _manageable_user(request: AuthenticatedHttpRequest, user_id) -> User:
    return get_object_or_404(
        _with_two_step(User.objects.restrict(request.user, Action.MANAGE)).select_related(
            "partner"
        ),
        pk=user_id,
    )


def _user_page(request: AuthenticatedHttpRequest, member: User, *, form=None, status=200):
    is_self = member.pk == request.user.pk
    if form is None and not is_self:
        form = UserRolesForm(by=request.user, user=member)
    role_changes = RoleChange.objects.filter(user=member).select_related("changed_by")
    return TemplateResponse(
        request,
        "partnercenter/user_detail.html",
        {
            "member": member,
            "roles": [r for r in Role if r in member.roles],
            "form": form,
            "role_changes": list(role_changes[:ROLE_CHANGES_SHOWN]),
            "role_changes_limit": ROLE_CHANGES_SHOWN,
            "is_self": is_self,
            "may_touch": Role.GLOBAL_ADMIN not in member.roles
            or Role.GLOBAL_ADMIN in request.user.roles,
        },
        status=status,
    )


@require_GET
@requires(Capability.MANAGE_USERS)
def user_detail(request: AuthenticatedHttpRequest, user_id):
    """One staff user: roles, their changes, deactivate or reactivate, a set-password link."""
    return _user_page(request, _manageable_user(request, user_id))


@require_POST
@requires(Capability.MANAGE_USERS)
def user_roles(request: AuthenticatedHttpRequest, user_id):
    """Give a staff user exactly the roles ticked."""
    member = _manageable_user(request, user_id)
    form = UserRolesForm(request.POST, by=request.user, user=member)
    if not form.is_valid():
        return _user_page(request, member, form=form)
    try:
        services.user_roles_set(user=member, roles=form.cleaned_data["roles"], by=request.user)
    except DomainError as error:
        form.add_error(None, error.message)
        return _user_page(request, member, form=form)
    messages.success(request, _("The roles of %(user)s were saved.") % _name(member))
    return redirect("partnercenter:user_detail", member.pk)


def _name(user: User) -> dict[str, str]:
    return {"user": user.display_name, "email": user.email}


# The buttons on a user's page that need nothing but a click: the service each calls (with
# `user=` and `by=`), and what the page says once it is done.
USER_ACTIONS = {
    "deactivate": (
        services.user_deactivate,
        gettext_lazy("%(user)s was deactivated and signed out everywhere."),
    ),
    "reactivate": (
        services.user_reactivate,
        gettext_lazy("%(user)s was reactivated and can sign in again."),
    ),
    "two_step_reset": (
        two_step.two_step_reset,
        gettext_lazy("Two-step verification of %(user)s was turned off."),
    ),
}


@require_POST
@requires(Capability.MANAGE_USERS)
def user_action(request: AuthenticatedHttpRequest, user_id, action):
    """Deactivate a staff user (and sign them out everywhere), reactivate them, or turn off their
    two-step verification (a lost phone: they set it up again at their next sign-in)."""
    member = _manageable_user(request, user_id)
    service, done = USER_ACTIONS[action]
    with told(request, done % _name(member)):
        service(user=member, by=request.user)
    return redirect("partnercenter:user_detail", member.pk)


@require_POST
@requires(Capability.MANAGE_USERS)
def user_set_password_link(request: AuthenticatedHttpRequest, user_id):
    """Email a staff user a new link to set their password."""
    member = _manageable_user(request, user_id)
    with told(request, _("A link to set a password was sent to %(email)s.") % _name(member)):
        services.set_password_link_send(user=member, by=request.user, site_url=_site_url(request))
    return redirect("partnercenter:user_detail", member.pk)


def _support_profile_page(request: AuthenticatedHttpRequest, form=None):
    partner = get_object_or_404(
        Partner.objects.restrict(request.user, Action.VIEW).annotate_permission(
            request.user, Action.EDIT
        ),
        pk=request.user.partner_id,
    )
    can_edit = partner.may_edit
    if can_edit and form is None:
        form = SupportProfileForm.for_partner(partner)
    labels = dict(NotificationTopic.choices)
    return TemplateResponse(
        request,
        "partnercenter/support_profile.html",
        {
            "partner": partner,
            "can_edit": can_edit,
            "form": form,
            "notification_topics": [
                labels[t]
                for t in services.notification_topics_for(partner)
                if t in partner.notification_topics
            ],
        },
    )


@require_GET
@requires(Capability.VIEW_SUPPORT_PROFILE)
def support_profile(request: AuthenticatedHttpRequest):
    """The support details customers see for this partner, and its notification settings; a
    form for those who may edit."""
    return _support_profile_page(request)


@require_POST
@requires(Capability.EDIT_SUPPORT_PROFILE)
def support_profile_update(request: AuthenticatedHttpRequest):
    """Save the support email, phone, website and hours, and the notification settings."""
    form = SupportProfileForm(request.POST, partner=request.user.partner)
    if form.is_valid():
        try:
            services.support_profile_update(
                partner=request.user.partner, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            add_validation_error(form, error)
        except DomainError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("The support profile was saved. Customers see it now."))
            return redirect("partnercenter:support_profile")
    return _support_profile_page(request, form)
