"""The eligibility rule for designated support contacts: the one place it is written down.

Eligible for a subscription: its indirect provider, plus every indirect reseller that has an
active partnership with that provider AND an active relationship with the customer AND
delegated admin privileges for that customer. Every other reseller the provider knows is "not
listed", with the first reason that rules it out: the subscription page names those tied to the
customer (a relationship or an open request), and finds any other by name or partner id.
"""

from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from partnercenter.models import Partner
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    ResellerPartnership,
)


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
    """The eligible partners of `subscription`, and the resellers tied to its customer (a live
    relationship or an open request) that are not, each with its reason. Two queries, however
    many resellers the provider has: the others are found by `standing_of_resellers`.

    Only resellers the provider knows (a partnership with it in any state) are listed either
    way: the customer's other partners are none of its business.
    """
    relationships = _relationships_by_partner(subscription.customer_id)
    requested = RelationshipRequest.objects.open().filter(customer_id=subscription.customer_id)
    partnerships = _by_reseller(
        ResellerPartnership.objects.filter(provider_id=subscription.provider_id)
        .filter(
            Q(reseller_id__in=list(relationships))
            | Q(reseller_id__in=requested.values("partner_id"))
        )
        .select_related("reseller")
    )
    eligible, not_listed = [subscription.provider], []
    for standing in _standings(partnerships, relationships):
        if standing.reason is None:
            eligible.append(standing.partner)
        else:
            not_listed.append(NotListed(standing.partner, standing.reason))
    return ContactOptions(eligible=eligible, not_listed=not_listed)


@dataclass(frozen=True)
class Standing:
    """Where a reseller stands for one subscription: why it is not listed, or None: eligible."""

    partner: Partner
    reason: NotListedReason | None


def standing_of_resellers(subscription, query: str, *, limit: int = 10) -> list[Standing]:
    """The provider's resellers whose name holds `query` or whose partner id is `query`, by
    name (at most `limit`), each with where it stands: "Why is a reseller not listed?"."""
    match = Q(name__icontains=query) | Q(partner_id=query)
    resellers = list(
        Partner.objects.resellers()
        .filter(match, provider_partnerships__provider_id=subscription.provider_id)
        .distinct()
        .order_by("name", "pk")[:limit]
    )
    partnerships = _by_reseller(
        ResellerPartnership.objects.filter(
            provider_id=subscription.provider_id, reseller__in=resellers
        ).select_related("reseller")
    )
    relationships = _relationships_by_partner(subscription.customer_id, partners=resellers)
    return _standings(partnerships, relationships)


def _relationships_by_partner(customer_id, partners=None) -> dict:
    relationships = CustomerRelationship.objects.live().filter(customer_id=customer_id)
    if partners is not None:
        relationships = relationships.filter(partner__in=partners)
    return {r.partner_id: r for r in relationships}


def _standings(partnerships: dict, relationships: dict) -> list[Standing]:
    """Each reseller of `partnerships` (one per reseller), by name, with where it stands."""
    resellers = sorted((p.reseller for p in partnerships.values()), key=lambda p: p.name.casefold())
    return [
        Standing(r, _reason_not_listed(partnerships.get(r.pk), relationships.get(r.pk)))
        for r in resellers
    ]


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
