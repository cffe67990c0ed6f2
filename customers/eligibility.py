"""The eligibility rule for designated support contacts: the one place it is written down.

Eligible for a subscription: its indirect provider, plus every indirect reseller that has an
active partnership with that provider AND an active relationship with the customer AND
delegated admin privileges for that customer. Every other reseller the provider knows is "not
listed", with the first reason that rules it out.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _

from partnercenter.models import Partner
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership


class NotListedReason(models.TextChoices):
    PARTNERSHIP_NOT_ACTIVE = "partnership_not_active", _("partnership not active")
    NO_RELATIONSHIP = "no_relationship", _("no relationship with this customer")
    NO_DELEGATED_ADMIN = "no_delegated_admin", _("no delegated admin privileges")


@dataclass(frozen=True)
class NotListed:
    partner: Partner
    reason: NotListedReason


@dataclass(frozen=True)
class ContactOptions:
    """Who may be the designated support contact of one subscription, and who may not."""

    eligible: list[Partner]  # the provider first, then resellers by name
    not_listed: list[NotListed]

    def is_eligible(self, partner: Partner | None) -> bool:
        return partner is not None and any(p.pk == partner.pk for p in self.eligible)

    def reason_for(self, partner: Partner) -> NotListedReason | None:
        return next((n.reason for n in self.not_listed if n.partner.pk == partner.pk), None)


def contact_options(subscription) -> ContactOptions:
    """The eligible and the not-listed partners for `subscription` (two queries), for display.

    Only resellers the provider knows (a partnership with it in any state) are listed either
    way: the customer's other partners are none of its business.
    """
    provider = subscription.provider
    partnerships = _by_reseller(
        ResellerPartnership.objects.filter(provider=provider).select_related("reseller")
    )
    relationships = {
        r.partner_id: r
        for r in CustomerRelationship.objects.live().filter(
            customer_id=subscription.customer_id, partner_id__in=list(partnerships)
        )
    }
    eligible, not_listed = [provider], []
    resellers = sorted((p.reseller for p in partnerships.values()), key=lambda p: p.name.casefold())
    for reseller in resellers:
        reason = _reason_not_listed(partnerships.get(reseller.pk), relationships.get(reseller.pk))
        if reason is None:
            eligible.append(reseller)
        else:
            not_listed.append(NotListed(reseller, reason))
    return ContactOptions(eligible=eligible, not_listed=not_listed)


class NotACandidate(Exception):
    """The partner is neither the provider nor a reseller the provider knows."""


def ineligibility_locked(subscription, contact: Partner) -> NotListedReason | None:
    """Why `contact` cannot be the designated contact of `subscription` now, or None.

    Locks the rows the answer rests on: the partnership, then the customer relationship. Every
    change that can make a reseller ineligible locks the same row before the subscriptions it
    falls back, so a decision made here holds until the caller's transaction ends. Raises
    NotACandidate for a partner the provider does not know.
    """
    if contact.pk == subscription.provider_id:
        return None
    partnership = (
        ResellerPartnership.objects.live()
        .select_for_update(of=("self",))
        .filter(provider_id=subscription.provider_id, reseller_id=contact.pk)
        .first()
    )
    if partnership is None and not (
        ResellerPartnership.objects.filter(
            provider_id=subscription.provider_id, reseller_id=contact.pk
        ).exists()
    ):
        raise NotACandidate
    relationship = (
        CustomerRelationship.objects.live()
        .select_for_update(of=("self",))
        .filter(partner_id=contact.pk, customer_id=subscription.customer_id)
        .first()
    )
    return _reason_not_listed(partnership, relationship)


def _by_reseller(partnerships) -> dict:
    """One partnership per reseller: the live one where there is one, else a removed one."""
    chosen = {}
    for partnership in partnerships:
        current = chosen.get(partnership.reseller_id)
        if current is None or current.state == RelationshipState.REMOVED:
            chosen[partnership.reseller_id] = partnership
    return chosen


def _reason_not_listed(partnership, relationship) -> NotListedReason | None:
    if partnership is None or partnership.state != RelationshipState.ACTIVE:
        return NotListedReason.PARTNERSHIP_NOT_ACTIVE
    if relationship is None or relationship.state != RelationshipState.ACTIVE:
        return NotListedReason.NO_RELATIONSHIP
    if not relationship.delegated_admin:
        return NotListedReason.NO_DELEGATED_ADMIN
    return None
