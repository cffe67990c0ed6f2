"""The eligibility rule for designated support contacts: the one place it is written down.

Eligible for a subscription: its indirect provider, plus every indirect reseller that has an
active partnership with that provider AND an active relationship with the customer AND
delegated admin privileges for that customer. Every other reseller tied to the provider or to
the customer is "not listed", with the first reason that rules it out.
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
    """The eligible and the not-listed partners for `subscription` (two queries)."""
    provider = subscription.provider
    partnerships = {
        p.reseller_id: p
        for p in ResellerPartnership.objects.filter(provider=provider)
        .exclude(state=RelationshipState.REMOVED)
        .select_related("reseller")
    }
    relationships = {
        r.partner_id: r
        for r in CustomerRelationship.objects.filter(
            customer_id=subscription.customer_id,
            state=RelationshipState.ACTIVE,
            partner__kind=Partner.Kind.INDIRECT_RESELLER,
        ).select_related("partner")
    }
    resellers = {p.reseller_id: p.reseller for p in partnerships.values()}
    resellers.update({r.partner_id: r.partner for r in relationships.values()})

    eligible, not_listed = [provider], []
    for reseller in sorted(resellers.values(), key=lambda p: p.name.casefold()):
        reason = _reason_not_listed(partnerships.get(reseller.pk), relationships.get(reseller.pk))
        if reason is None:
            eligible.append(reseller)
        else:
            not_listed.append(NotListed(reseller, reason))
    return ContactOptions(eligible=eligible, not_listed=not_listed)


def _reason_not_listed(partnership, relationship) -> NotListedReason | None:
    if partnership is None or partnership.state != RelationshipState.ACTIVE:
        return NotListedReason.PARTNERSHIP_NOT_ACTIVE
    if relationship is None:
        return NotListedReason.NO_RELATIONSHIP
    if not relationship.delegated_admin:
        return NotListedReason.NO_DELEGATED_ADMIN
    return None
