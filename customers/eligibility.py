"""The eligibility rule for designated support contacts: the one place it is written down.

Eligible for a subscription: its indirect provider, plus every indirect reseller that has an
active partnership with that provider AND an active relationship with the customer AND
delegated admin privileges for that customer. Every other reseller the provider knows is "not
listed", with the first reason that rules it out: the subscription page names those tied to the
customer (a relationship or an open request), and finds any other by name or partner id.
"""

from dataclasses import dataclass

from django.db import models
from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, Subquery
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


@dataclass(frozen=True)
class Standings:
    """Where each of some partners stands for some customers of one provider (read by
    `standings`): `reason(contact_id, customer_id)`."""

    provider_id: int
    partnerships: dict  # reseller id -> state of its partnership (a live one first)
    relationships: dict  # (partner id, customer id) -> (state, delegated admin)

    def reason(self, contact_id: int, customer_id: int) -> NotListedReason | None:
        """Why the partner cannot be the contact of a subscription of that customer, or None.
        Raises NotACandidate for a partner the provider does not know."""
        state, delegated_admin = self.relationships.get((contact_id, customer_id), (None, False))
        return self.reason_given(contact_id, state, delegated_admin)

    def reason_given(self, contact_id: int, relationship_state, delegated_admin):
        """`reason`, the partner's live relationship with the customer read elsewhere (its state
        and delegated admin privileges; None: it has none)."""
        if contact_id == self.provider_id:
            return None
        if contact_id not in self.partnerships:
            raise NotACandidate
        return _reason_not_listed(
            self.partnerships[contact_id], relationship_state, bool(delegated_admin)
        )


def standings(provider_id: int, contact_ids, customer_ids, *, lock: bool) -> Standings:
    """`ineligibility_locked` for many subscriptions of one provider at once, in two statements
    whatever their number: the partnerships of `contact_ids` with the provider, then their live
    relationships with `customer_ids` (ids, or a query of them). With `lock`, each is locked in
    primary-key order (two bulk changes lock in the same order, and every single change takes a
    partnership before a relationship); without, it is a preview's guess."""
    contacts = sorted({c for c in contact_ids if c != provider_id})
    if not contacts:
        return Standings(provider_id, {}, {})
    partnerships = ResellerPartnership.objects.filter(
        provider_id=provider_id, reseller_id__in=contacts
    )
    relationships = CustomerRelationship.objects.live().filter(
        partner_id__in=contacts,
        customer_id__in=customer_ids if hasattr(customer_ids, "query") else sorted(customer_ids),
    )
    if lock:
        partnerships = partnerships.select_for_update(of=("self",))
        relationships = relationships.select_for_update(of=("self",))
    chosen = _by_reseller(partnerships.only("pk", "reseller_id", "state").order_by("pk"))
    rows = relationships.order_by("pk").values_list(
        "partner_id", "customer_id", "state", "delegated_admin"
    )
    return Standings(
        provider_id,
        {reseller: p.state for reseller, p in chosen.items()},
        {(partner, customer): (state, dap) for partner, customer, state, dap in rows},
    )


def with_relationship_of(queryset, contact_id: int, customer: str):
    """`queryset` with the state and delegated admin privileges of `contact_id`'s live
    relationship with the customer at the path `customer` (`relationship_state`,
    `relationship_delegated_admin`; None without one), for `Standings.reason_given`: a LEFT
    JOIN, at most one row per pair (`customer_relationship_one_live_per_pair`)."""
    path = f"{customer}__relationships"
    return queryset.annotate(
        live_relationship=FilteredRelation(
            path,
            condition=Q(**{f"{path}__partner_id": contact_id})
            & ~Q(**{f"{path}__state": RelationshipState.REMOVED}),
        ),
        relationship_state=F("live_relationship__state"),
        relationship_delegated_admin=F("live_relationship__delegated_admin"),
    )


def eligible_subscriptions(reseller_id: int) -> Q:
    """The subscriptions (a Q over them) whose customer gives `reseller` what `_reason_not_listed`
    asks of a relationship: active, with delegated admin privileges. The partnership with the
    provider is the caller's to check (one row). What selects, not what decides: every row is
    judged again by the rule under locks (customers/bulk.py)."""
    return Q(
        Exists(
            CustomerRelationship.objects.filter(
                partner_id=reseller_id,
                customer_id=OuterRef("customer_id"),
                state=RelationshipState.ACTIVE,
                delegated_admin=True,
            )
        )
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
