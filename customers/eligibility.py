"""The eligibility rule for designated support contacts: the one place it is written down.

Eligible for a subscription: its indirect provider, plus every indirect reseller that has an
active partnership with that provider AND an active relationship with the customer AND
delegated admin privileges for that customer. Every other reseller the provider knows is "not
listed", with the first reason that rules it out: the subscription page names those tied to the
customer (a relationship or an open request), and finds any other by name or partner id.
"""

from dataclasses import dataclass

from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery
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
    relationship or an open request) that are not, each with its reason. One query, however
    many resellers the provider has: the others are found by `standing_of_resellers`.

    Only resellers the provider knows (a partnership with it in any state) are listed either
    way: the customer's other partners are none of its business.
    """
    customer_id = subscription.customer_id
    # Driven by the customer's few ties, not by the provider's thousands of partnerships.
    tied = (
        _live_relationships(customer_id)
        .values("partner_id")
        .union(
            RelationshipRequest.objects.open()
            .filter(customer_id=customer_id)
            .order_by()
            .values("partner_id"),
            all=True,
        )
    )
    partnerships = ResellerPartnership.objects.filter(
        provider_id=subscription.provider_id, reseller_id__in=tied
    )
    eligible, not_listed = [subscription.provider], []
    for standing in _standings(partnerships, customer_id):
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
    known = ResellerPartnership.objects.filter(
        provider_id=subscription.provider_id, reseller_id=OuterRef("pk")
    )
    found = (
        Partner.objects.resellers()
        .filter(Q(name__icontains=query) | Q(partner_id=query), Exists(known))
        .order_by("name", "pk")
        .values("pk")[:limit]
    )
    partnerships = ResellerPartnership.objects.filter(
        provider_id=subscription.provider_id, reseller_id__in=found
    )
    return _standings(partnerships, subscription.customer_id)


def _live_relationships(customer_id):
    return CustomerRelationship.objects.live().filter(customer_id=customer_id).order_by()


def _standings(partnerships, customer_id) -> list[Standing]:
    """Each reseller of `partnerships`, by name, with where it stands for the customer: one
    query, each partnership read with its reseller and the state of their live relationship
    with the customer."""
    relationship = _live_relationships(customer_id).filter(partner_id=OuterRef("reseller_id"))
    chosen = _by_reseller(
        partnerships.select_related("reseller")
        .annotate(
            relationship_state=Subquery(relationship.values("state")[:1]),
            relationship_delegated_admin=Subquery(relationship.values("delegated_admin")[:1]),
        )
        .order_by()
    )
    return [
        Standing(
            p.reseller,
            _reason_not_listed(p.state, p.relationship_state, p.relationship_delegated_admin),
        )
        for p in sorted(chosen.values(), key=lambda p: p.reseller.name.casefold())
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
    # At most one live row per pair: ordered by pk, not by the model's names, which would
    # join (and plan) the partner and customer tables for nothing.
    partnership = (
        ResellerPartnership.objects.live()
        .select_for_update(of=("self",))
        .filter(provider_id=subscription.provider_id, reseller_id=contact.pk)
        .order_by("pk")
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
        .order_by("pk")
        .first()
    )
    return _reason_not_listed(
        partnership.state if partnership else None,
        relationship.state if relationship else None,
        relationship is not None and relationship.delegated_admin,
    )


def _by_reseller(partnerships) -> dict:
    """One partnership per reseller: the live one where there is one, else a removed one."""
    chosen = {}
    for partnership in partnerships:
        current = chosen.get(partnership.reseller_id)
        if current is None or current.state == RelationshipState.REMOVED:
            chosen[partnership.reseller_id] = partnership
    return chosen


def _reason_not_listed(
    partnership_state, relationship_state, delegated_admin
) -> NotListedReason | None:
    """The rule itself, from the reseller's partnership with the provider and its live
    relationship with the customer (None: there is none)."""
    if partnership_state != RelationshipState.ACTIVE:
        return NotListedReason.PARTNERSHIP_NOT_ACTIVE
    if relationship_state != RelationshipState.ACTIVE:
        return NotListedReason.NO_RELATIONSHIP
    if not delegated_admin:
        return NotListedReason.NO_DELEGATED_ADMIN
    return None
