"""Writes to subscriptions: every one atomic, checked, and recorded in the history."""

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from customers.eligibility import NotACandidate, NotListedReason, ineligibility_locked
from customers.models import Subscription, SupportContactChange
from events.models import EventType
from events.services import event_record
from partnercenter.errors import DomainError
from partnercenter.models import Partner, User
from partnercenter.policy import Action


class StaleSubscription(DomainError):
    """The subscription changed after the form was loaded; nothing was overwritten."""

    def __init__(self, subscription: Subscription, last_change: SupportContactChange | None):
        self.subscription = subscription
        self.last_change = last_change
        message = _(
            "%(who)s changed the designated support contact to %(contact)s after you opened "
            "this page, so nothing was changed. The form now shows the current value."
        ) % {
            "who": last_change.changed_by_name if last_change else _("Someone"),
            "contact": subscription.effective_support_contact,
        }
        super().__init__(message)


class NewCommerceUnsupported(DomainError):
    """New-commerce subscriptions have no designated support contact."""


class ContactNotEligible(DomainError):
    """The partner may not be the designated contact: `reason` says why, or is None for a
    partner the provider does not know (nothing more is told about it)."""

    def __init__(self, message: str, reason: NotListedReason | None):
        super().__init__(message)
        self.reason = reason


def support_contact_assign(
    *,
    subscription: Subscription,
    contact: Partner,
    by: User | None,
    expected_version: int,
    through: str = SupportContactChange.Through.FORM,
) -> SupportContactChange | None:
    """Make `contact` the designated support contact of `subscription`.

    Takes the locks in the one order every eligibility-changing write takes them (partnership,
    customer relationship, then subscriptions), re-checks eligibility against the locked rows,
    and refuses to overwrite a change made since `expected_version` was read. Returns the
    history entry, or None when `contact` already is the designated contact.
    `by=None` is the system (no access check); anyone else must be allowed to assign it.
    """
    subscriptions = (
        Subscription.objects.all()
        if by is None
        else (Subscription.objects.restrict(by, Action.ASSIGN))
    )
    with transaction.atomic():
        # Provider and customer never change, so an unlocked read may choose the locks.
        target = (
            subscriptions.filter(pk=subscription.pk)
            .only("pk", "provider_id", "customer_id", "commerce_type")
            .order_by("pk")
            .first()
        )
        if target is None:
            raise DomainError(
                _("You may not change the designated support contact of this subscription.")
            )
        if not target.supports_designated_contact:
            raise NewCommerceUnsupported(
                _("New-commerce subscriptions do not support a designated support contact.")
            )
        try:
            reason = ineligibility_locked(target, contact)
            candidate = True
        except NotACandidate:
            reason, candidate = None, False
        current = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("provider", "support_contact", "customer")
            .get(pk=target.pk)
        )
        if current.version != expected_version:
            raise StaleSubscription(current, _last_change(current))
        if not candidate:
            raise ContactNotEligible(
                _("That partner cannot be the designated support contact of this subscription."),
                reason=None,
            )
        if reason is not None:
            raise ContactNotEligible(
                _("%(partner)s cannot be the designated support contact: %(reason)s.")
                % {"partner": contact, "reason": reason.label},
                reason=reason,
            )
        if current.support_contact_id == contact.pk:
            return None

        # Compare-and-swap on the version as well as the row lock: it also holds on
        # databases without SELECT ... FOR UPDATE (SQLite).
        updated = Subscription.objects.filter(pk=current.pk, version=expected_version).update(
            support_contact=contact, version=F("version") + 1
        )
        if updated != 1:
            current.refresh_from_db()
            raise StaleSubscription(current, _last_change(current))
        change = SupportContactChange.objects.create(
            subscription=current,
            from_contact=current.support_contact,
            to_contact=contact,
            changed_by=by,
            through=through,
            api_token=_token_of(by),
        )
        support_contacts_changed([change])
        return change


def support_contacts_changed(changes: list[SupportContactChange], operation=None) -> None:
    """The event of `changes`, in their transaction (one INSERT, none when nothing changed)."""
    if changes:
        event_record(
            EventType.SUPPORT_CONTACT_CHANGED,
            changes=[c.pk for c in changes],
            operation=operation.pk if operation else None,
        )


def _token_of(by: User | None):
    """The API token `by` authenticated with, if the change comes through the API."""
    return getattr(by, "api_token", None)


def _last_change(subscription: Subscription) -> SupportContactChange | None:
    return subscription.support_contact_changes.select_related("changed_by", "to_contact").first()


def support_contacts_fall_back(
    *,
    subscriptions,
    by: User | None,
    through: str = SupportContactChange.Through.RELATIONSHIP_REMOVAL,
) -> list[SupportContactChange]:
    """Give each of `subscriptions` its provider back as designated contact, recorded in history.

    For relationship changes that make a reseller ineligible. Runs in the caller's transaction,
    which has locked the relationship or partnership row first (the order assignment uses):
    locks the rows, records one history entry each, and updates them in one statement.
    """
    locked = list(
        subscriptions.exclude(support_contact_id=F("provider_id"))
        .select_related(None)
        .select_for_update(of=("self",))
        .only("pk", "provider_id", "support_contact_id")
        .order_by("pk")  # one order for every locker of many rows: no deadlock between them
    )
    if not locked:
        return []
    changes = SupportContactChange.objects.bulk_create(
        SupportContactChange(
            subscription_id=s.pk,
            from_contact_id=s.support_contact_id,
            to_contact_id=s.provider_id,
            changed_by=by,
            through=through,
            api_token=_token_of(by),
        )
        for s in locked
    )
    Subscription.objects.filter(pk__in=[s.pk for s in locked]).update(
        support_contact_id=F("provider_id"), version=F("version") + 1
    )
    support_contacts_changed(changes)
    return changes
