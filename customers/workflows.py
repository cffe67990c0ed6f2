"""Workflows that end what a designated support contact rests on, and fall back what depended
on it: a partnership, a customer relationship, delegated admin privileges.

Each one locks its own row first, changes it, then falls back exactly the subscriptions that
docs/domain.md names, in the same transaction (the lock order of customers/eligibility.py).
Every refusal raises DomainError with a message; nothing is changed then.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from customers.models import Subscription, SupportContactChange
from customers.services import support_contacts_fall_back
from events.models import EventType
from events.services import event_record
from partnercenter.errors import DomainError
from partnercenter.models import User
from partnercenter.policy import Action
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership
from relationships.services import relationship_event


def partnership_removal_fallbacks(partnership: ResellerPartnership):
    """The subscriptions whose contact falls back to the provider if `partnership` ends:
    those billed through that provider and designated to that reseller, at every customer."""
    return Subscription.objects.filter(
        provider_id=partnership.provider_id, support_contact_id=partnership.reseller_id
    ).select_related("customer")


@transaction.atomic
def reseller_partnership_remove(
    *, partnership: ResellerPartnership, by: User
) -> list[SupportContactChange]:
    """End a partnership (either party's staff); the subscriptions of that provider designated
    to that reseller fall back to the provider in the same transaction."""
    partnership = (
        ResellerPartnership.objects.restrict(by, Action.REMOVE)
        .select_for_update(of=("self",))
        .filter(pk=partnership.pk)
        .first()
    )
    if partnership is None or partnership.state == RelationshipState.REMOVED:
        raise DomainError(_("This partnership was already removed; nothing changed."))
    partnership.state = RelationshipState.REMOVED
    partnership.save(update_fields=["state", "updated_at"])
    event_record(EventType.PARTNERSHIP_ENDED, partnership=partnership.pk)
    return support_contacts_fall_back(
        subscriptions=partnership_removal_fallbacks(partnership), by=by
    )


def relationship_removal_fallbacks(relationship: CustomerRelationship):
    """The subscriptions whose contact falls back if this partner stops qualifying: every one of
    the customer's designated to the partner, whichever provider bills it."""
    return (
        Subscription.objects.filter(
            customer_id=relationship.customer_id, support_contact_id=relationship.partner_id
        )
        .exclude(provider_id=relationship.partner_id)
        .select_related("customer", "provider")
    )


class ActiveSubscriptionsExist(DomainError):
    """A provider cannot end its relationship with a customer it still bills: `subscriptions`
    are the customer's active subscriptions through it."""

    def __init__(self, message: str, subscriptions: list):
        super().__init__(message)
        self.subscriptions = subscriptions


def relationship_removal_blocker(relationship: CustomerRelationship) -> DomainError | None:
    """Why this relationship cannot be removed now (the refusal to raise), or None."""
    if relationship.state == RelationshipState.REMOVED:
        return DomainError(_("This relationship was already removed."))
    if relationship.partner.is_provider:
        active = list(
            Subscription.objects.filter(
                customer_id=relationship.customer_id,
                provider_id=relationship.partner_id,
                status=Subscription.Status.ACTIVE,
            )
            .order_by("pk")
            .values_list("uuid", flat=True)
        )
        if active:
            return ActiveSubscriptionsExist(
                _(
                    "%(customer)s still has %(count)s active subscription(s) billed through "
                    "%(partner)s. A provider cannot remove its own relationship with a customer "
                    "while that is so."
                )
                % {
                    "customer": relationship.customer.name,
                    "count": len(active),
                    "partner": relationship.partner.name,
                },
                subscriptions=active,
            )
    return None


def _locked_relationship(relationship_id: int, by: User, action: Action):
    return (
        CustomerRelationship.objects.restrict(by, action)
        .select_for_update(of=("self",))
        .select_related("partner", "customer")
        .filter(pk=relationship_id)
        .first()
    )


@transaction.atomic
def customer_relationship_remove(
    *, relationship: CustomerRelationship, by: User
) -> list[SupportContactChange]:
    """End a relationship (the customer's admin or the partner's own staff); the subscriptions
    that had this partner as designated contact fall back in the same transaction."""
    relationship = _locked_relationship(relationship.pk, by, Action.REMOVE)
    if relationship is None:
        raise DomainError(_("You may not end this relationship."))
    if blocker := relationship_removal_blocker(relationship):
        raise blocker
    relationship.state = RelationshipState.REMOVED
    relationship.delegated_admin = False
    relationship.save(update_fields=["state", "delegated_admin", "updated_at"])
    relationship_event(EventType.RELATIONSHIP_ENDED, relationship)
    return support_contacts_fall_back(
        subscriptions=relationship_removal_fallbacks(relationship), by=by
    )


@transaction.atomic
def delegated_admin_remove(
    *, relationship: CustomerRelationship, by: User
) -> list[SupportContactChange]:
    """DAP withdrawn by the customer's admin or given up by the partner holding it; the
    subscriptions designated to the partner at that customer fall back."""
    relationship = _locked_relationship(relationship.pk, by, Action.REMOVE_DAP)
    if (
        relationship is None
        or not relationship.delegated_admin
        or relationship.state != RelationshipState.ACTIVE
    ):
        raise DomainError(_("This partner holds no delegated admin privileges; nothing changed."))
    relationship.delegated_admin = False
    relationship.save(update_fields=["delegated_admin", "updated_at"])
    relationship_event(EventType.DELEGATED_ADMIN_REMOVED, relationship)
    return support_contacts_fall_back(
        subscriptions=relationship_removal_fallbacks(relationship), by=by
    )
