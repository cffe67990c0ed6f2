"""Writes to partner users and the support profile: each atomic, checked, with a clear refusal.

Changes to one partner's users are serialised by locking the partner's row, so that two admins
cannot each remove "the other" last global admin at the same moment. Every change of roles is
recorded (RoleChange). Email goes out only once the change is committed, so that no message
is sent for a change that was rolled back, and none is sent while the partner's row is locked.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partnercenter.errors import DomainError
from partnercenter.models import (
    NotificationTopic,
    PageVisit,
    Partner,
    RoleAssignment,
    RoleChange,
    User,
)
from partnercenter.policy import Action, permits
from partnercenter.roles import Role
from partnercenter.tracing import change_log

LAST_GLOBAL_ADMIN = gettext_lazy(
    "%(user)s is the last active global admin of %(partner)s. A partner must always keep at "
    "least one: make someone else a global admin first."
)


def _lock_partner(partner_id: int) -> Partner:
    return Partner.objects.select_for_update().get(pk=partner_id)


def check_manager(by: User, partner_id: int) -> None:
    """Refuse unless `by` may manage the users of the partner `partner_id`."""
    if not (by.partner_id == partner_id and permits(by, User, Action.MANAGE)):
        raise DomainError(_("You may not manage the users of this partner."))


def check_may_touch_global_admin(by: User, user: User) -> None:
    """Refuse unless `by` is a global admin too, when `user` is one."""
    if Role.GLOBAL_ADMIN in user.roles and Role.GLOBAL_ADMIN not in by.roles:
        raise DomainError(_("Only a global admin may change the account of another global admin."))


def _is_last_active_global_admin(user: User) -> bool:
    others = User.objects.active_global_admins().filter(partner_id=user.partner_id)
    return (
        user.is_active
        and Role.GLOBAL_ADMIN in user.roles
        and not others.exclude(pk=user.pk).exists()
    )


def _clean_roles(roles: Iterable[str]) -> frozenset[Role]:
    try:
        return frozenset(Role(r) for r in roles)
    except ValueError:
        raise DomainError(_("That is not a role. Pick roles from the list.")) from None


def _fresh(user: User) -> User:
    """The user as stored now (roles included), inside the caller's transaction."""
    return User.objects.select_related("partner").get(pk=user.pk)


def _locked_for_change(user: User, by: User) -> User:
    """The user as stored now, once their partner is locked and `by` may manage them."""
    _lock_partner(user.partner_id)
    user = _fresh(user)
    check_manager(by, user.partner_id)
    return user


def user_invite(
    *,
    partner: Partner,
    by: User,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    roles: Iterable[str],
    site_url: str,
) -> User:
    """Add a staff user to `partner` with `roles`, and email them a link to set a password."""
    roles = _clean_roles(roles)
    with transaction.atomic():
        _lock_partner(partner.pk)
        check_manager(by, partner.pk)
        if Role.GLOBAL_ADMIN in roles and Role.GLOBAL_ADMIN not in by.roles:
            raise DomainError(_("Only a global admin may grant the global admin role."))
        user = User(
            username=username,
            first_name=first_name,
            last_name=last_name,
            email=email,
            partner=partner,
            is_active=True,
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
        RoleAssignment.objects.bulk_create(RoleAssignment(user=user, role=r) for r in roles)
        if roles:
            RoleChange.objects.create(user=user, changed_by=by, from_roles=[], to_roles=list(roles))
        change_log("user.invited", user=user.pk, partner=partner.pk, roles=sorted(roles))
        _send_set_password_link_on_commit(user=user, by=by, site_url=site_url, welcome=True)
    return user


def user_roles_set(*, user: User, roles: Iterable[str], by: User) -> User:
    """Give `user` exactly `roles`; the partner keeps at least one active global admin."""
    wanted = _clean_roles(roles)
    with transaction.atomic():
        user = _locked_for_change(user, by)
        if user.pk == by.pk:
            raise DomainError(_("You cannot change your own roles. Ask another admin to do it."))
        held = user.roles
        if (
            Role.GLOBAL_ADMIN in held
            and Role.GLOBAL_ADMIN not in wanted
            and _is_last_active_global_admin(user)
        ):
            raise DomainError(LAST_GLOBAL_ADMIN % _names(user))
        if Role.GLOBAL_ADMIN in (held ^ wanted) and Role.GLOBAL_ADMIN not in by.roles:
            raise DomainError(_("Only a global admin may grant or remove the global admin role."))
        if held == wanted:
            return user
        RoleAssignment.objects.filter(user=user, role__in=held - wanted).delete()
        RoleAssignment.objects.bulk_create(RoleAssignment(user=user, role=r) for r in wanted - held)
        RoleChange.objects.create(
            user=user, changed_by=by, from_roles=list(held), to_roles=list(wanted)
        )
        change_log("user.roles_set", user=user.pk, roles=sorted(wanted), before=sorted(held))
    return _fresh(user)


def user_deactivate(*, user: User, by: User) -> User:
    """Stop `user` signing in and end all their sessions; the history still names them."""
    with transaction.atomic():
        user = _locked_for_change(user, by)
        if not user.is_active:
            return user
        if _is_last_active_global_admin(user):
            raise DomainError(LAST_GLOBAL_ADMIN % _names(user))
        if user.pk == by.pk:
            raise DomainError(
                _("You cannot deactivate your own account. Ask another admin to do it.")
            )
        check_may_touch_global_admin(by, user)
        # A new session generation changes the session hash: every session of the user ends
        # at its next request, and stays ended if the user is reactivated later.
        User.objects.filter(pk=user.pk).update(
            is_active=False, session_generation=F("session_generation") + 1
        )
        change_log("user.deactivated", user=user.pk)
    return _fresh(user)


def user_reactivate(*, user: User, by: User) -> User:
    """Let a deactivated user sign in again (with the password they had)."""
    with transaction.atomic():
        user = _locked_for_change(user, by)
        check_may_touch_global_admin(by, user)
        if not user.is_active:
            User.objects.filter(pk=user.pk).update(is_active=True)
            change_log("user.reactivated", user=user.pk)
    return _fresh(user)


def set_password_link_send(*, user: User, by: User, site_url: str) -> None:
    """Email `user` a new link to set their password (the old password keeps working)."""
    with transaction.atomic():
        user = _fresh(user)
        check_manager(by, user.partner_id)
        check_may_touch_global_admin(by, user)
        if not user.is_active:
            raise DomainError(
                _("%(user)s is deactivated; reactivate them before sending a link.") % _names(user)
            )
        if not user.email:
            raise DomainError(_("%(user)s has no email address.") % _names(user))
        _send_set_password_link_on_commit(user=user, by=by, site_url=site_url, welcome=False)
        change_log("user.set_password_link_sent", user=user.pk)


def set_password_path(user: User) -> str:
    """The path of a one-time link to set `user`'s password (Django's reset token)."""
    return reverse(
        "partnercenter:password_set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )


def _send_set_password_link_on_commit(**kwargs) -> None:
    """Send the link once the caller's transaction commits (never if it rolls back)."""
    transaction.on_commit(partial(_send_set_password_link, **kwargs))


def _send_set_password_link(*, user: User, by: User, site_url: str, welcome: bool) -> None:
    context = {
        "user": user,
        "partner": user.partner,
        "by": by.display_name,
        "link": site_url.rstrip("/") + set_password_path(user),
        "days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        "welcome": welcome,
    }
    subject = (
        _("Welcome to partnercenter: set your password")
        if welcome
        else _("Set your partnercenter password")
    )
    send_mail(
        subject,
        render_to_string("registration/set_password_email.txt", context),
        None,
        [user.email],
    )


def _names(user: User) -> dict[str, str]:
    return {"user": user.display_name, "partner": str(user.partner)}


SUPPORT_PROFILE_FIELDS = ("support_email", "support_phone", "support_website", "support_hours")
NOTIFICATION_FIELDS = ("notification_email", "notification_language", "notification_topics")
# A provider is never emailed about designated contacts: it is the contact whenever no reseller
# is, and its own staff make the changes.
CONTACT_TOPICS = (NotificationTopic.CONTACT_GAINED, NotificationTopic.CONTACT_LOST)


def notification_topics_for(partner: Partner) -> list[NotificationTopic]:
    """The topics a partner of this kind may choose to be emailed about."""
    return [t for t in NotificationTopic if not (partner.is_provider and t in CONTACT_TOPICS)]


def support_profile_update(
    *,
    partner: Partner,
    by: User,
    support_email: str,
    support_phone: str,
    support_website: str,
    support_hours: str,
    notification_email: str | None = None,
    notification_language: str | None = None,
    notification_topics: Iterable[str] | None = None,
) -> Partner:
    """Change the support details that customers see for `partner`, and where, in what language
    and about what its notifications are emailed (None: the notification setting as it is)."""
    with transaction.atomic():
        partner = (
            Partner.objects.restrict(by, Action.EDIT)
            .select_for_update()
            .filter(pk=partner.pk)
            .first()
        )
        if partner is None:
            raise DomainError(_("You may not edit this partner's support profile."))
        partner.support_email = support_email
        partner.support_phone = support_phone
        partner.support_website = support_website
        partner.support_hours = support_hours
        if notification_email is not None:
            partner.notification_email = notification_email
        if notification_language is not None:
            partner.notification_language = notification_language
        if notification_topics is not None:
            partner.notification_topics = _clean_topics(partner, notification_topics)
        partner.full_clean()
        partner.save(update_fields=[*SUPPORT_PROFILE_FIELDS, *NOTIFICATION_FIELDS])
        change_log("partner.support_profile_updated", partner=partner.pk)
    return partner


def _clean_topics(partner: Partner, topics: Iterable[str]) -> list[str]:
    """The topics chosen, in the list's order; refused if one does not apply to the partner."""
    chosen = set(topics)
    allowed = notification_topics_for(partner)
    if chosen - {t.value for t in allowed}:
        raise DomainError(
            _("Choose notification topics from the list."), field="notification_topics"
        )
    return [t.value for t in allowed if t in chosen]


# Views of a page less than this apart are one visit: paging and filtering keep their marks.
VISIT_GAP = timedelta(minutes=30)


def page_visit_mark(*, user: User, page: str, now: datetime | None = None) -> datetime | None:
    """Record that `user` views `page` (at `now`) and return when their previous visit ended
    (None: this is their first visit). A view more than VISIT_GAP after the user's last view of
    the page starts a new visit: the last view becomes the previous visit's end; a view within
    the gap belongs to the current visit and keeps its previous visit.

    Two statements whatever the state, each atomic by itself: the UPDATE decides in the row
    (two tabs at once cannot both start a visit), and a first view inserts, a concurrent first
    view's row winning without an error."""
    now = now or timezone.now()
    visits = PageVisit.objects.filter(user=user, page=page)
    updated = visits.update(
        previous_at=Case(
            When(current_at__lt=now - VISIT_GAP, then=F("current_at")),
            default=F("previous_at"),
        ),
        # Never back in time: a request that started earlier may finish later.
        current_at=Greatest(F("current_at"), Value(now, output_field=DateTimeField())),
    )
    if not updated:
        PageVisit.objects.bulk_create(
            [PageVisit(user=user, page=page, current_at=now)], ignore_conflicts=True
        )
        return None
    return visits.values_list("previous_at", flat=True).first()
