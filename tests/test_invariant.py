"""The invariant of DOMAIN.md under concurrency: every subscription's designated support contact
is eligible at every moment, and every change and fall-back has its history row.

Two threads race, on PostgreSQL (real row locks, real concurrency): staff assigning a reseller
while someone else makes that reseller ineligible in each way there is. After every round the
whole database is checked with a rule written here, independently of the code under test.
"""

from dataclasses import dataclass

import pytest

from customers import workflows
from customers.models import Subscription
from customers.services import support_contact_assign
from partnercenter.errors import DomainError
from partnercenter.roles import Role
from relationships import services as relationship_services
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    ResellerPartnership,
)
from tests import factories
from tests.concurrency import at_once, needs_postgresql

pytestmark = [pytest.mark.django_db(transaction=True), needs_postgresql]

ROUNDS = 25  # per kind of change


@dataclass
class World:
    provider_staff: object
    other_provider_staff: object
    reseller_staff: object
    customer_admin: object
    reseller: object
    relationship: CustomerRelationship
    partnership: ResellerPartnership
    other_partnership: ResellerPartnership
    subscription: Subscription  # through the provider, still designated to the provider
    designated: Subscription  # through the provider, already designated to the reseller
    other_designated: Subscription  # through the other provider, designated to the reseller


def _world() -> World:
    provider, other_provider = factories.ProviderFactory(), factories.ProviderFactory()
    reseller, customer = factories.ResellerFactory(), factories.CustomerFactory()
    for p in (provider, other_provider):
        factories.CustomerRelationshipFactory(partner=p, customer=customer)
    partnership = factories.ResellerPartnershipFactory(provider=provider, reseller=reseller)
    other_partnership = factories.ResellerPartnershipFactory(
        provider=other_provider, reseller=reseller
    )
    relationship = factories.CustomerRelationshipFactory(
        partner=reseller, customer=customer, delegated_admin=True
    )
    staff = factories.StaffUserFactory(partner=provider, roles=[Role.ADMIN_AGENT])
    other_staff = factories.StaffUserFactory(partner=other_provider, roles=[Role.ADMIN_AGENT])
    subscription, designated = factories.SubscriptionFactory.create_batch(
        2, customer=customer, provider=provider
    )
    other = factories.SubscriptionFactory(customer=customer, provider=other_provider)
    support_contact_assign(subscription=designated, contact=reseller, by=staff, expected_version=1)
    support_contact_assign(subscription=other, contact=reseller, by=other_staff, expected_version=1)
    return World(
        provider_staff=staff,
        other_provider_staff=other_staff,
        reseller_staff=factories.StaffUserFactory(partner=reseller, roles=[Role.ADMIN_AGENT]),
        customer_admin=factories.CustomerAdminFactory(customer=customer),
        reseller=reseller,
        relationship=relationship,
        partnership=partnership,
        other_partnership=other_partnership,
        subscription=subscription,
        designated=designated,
        other_designated=other,
    )


def _is_eligible(subscription: Subscription) -> bool:
    """DOMAIN.md's rule, written again here on purpose."""
    contact = subscription.support_contact_id
    if contact == subscription.provider_id:
        return True
    return (
        ResellerPartnership.objects.filter(
            provider_id=subscription.provider_id, reseller_id=contact, state="active"
        ).exists()
        and CustomerRelationship.objects.filter(
            partner_id=contact,
            customer_id=subscription.customer_id,
            state="active",
            delegated_admin=True,
        ).exists()
    )


def _violations() -> list[str]:
    found = []
    for s in Subscription.objects.all():
        if not _is_eligible(s):
            found.append(
                f"subscription {s.pk} designated to ineligible partner {s.support_contact}"
            )
        history = list(s.support_contact_changes.order_by("changed_at", "pk"))
        if len(history) != s.version - 1:
            found.append(f"subscription {s.pk}: version {s.version}, {len(history)} history rows")
        last = history[-1].to_contact_id if history else s.provider_id
        if last != s.support_contact_id:
            found.append(f"subscription {s.pk}: contact differs from its last history row")
    return found


def _race(*actions) -> list[str | BaseException]:
    """Run the actions at the same moment; the outcome of each: "done", "refused" (a domain
    error with a message: a fine outcome of a race, nothing changed), or the unexpected
    exception (a deadlock, an IntegrityError...: the bug)."""
    return [
        "refused"
        if isinstance(outcome, DomainError)
        else outcome
        if isinstance(outcome, BaseException)
        else "done"
        for outcome in at_once(*actions)
    ]


def _unexpected(outcomes) -> list[BaseException]:
    return [o for o in outcomes if isinstance(o, BaseException)]


def _assign(world: World):
    def assign():
        subscription = Subscription.objects.get(pk=world.subscription.pk)
        support_contact_assign(
            subscription=subscription,
            contact=world.reseller,
            by=world.provider_staff,
            expected_version=subscription.version,
        )

    return assign


CHANGES = {
    "DAP withdrawn by the customer's admin": lambda w: (
        lambda: workflows.delegated_admin_remove(relationship=w.relationship, by=w.customer_admin)
    ),
    "DAP given up by the reseller": lambda w: (
        lambda: workflows.delegated_admin_remove(relationship=w.relationship, by=w.reseller_staff)
    ),
    "relationship ended by the reseller": lambda w: (
        lambda: workflows.customer_relationship_remove(
            relationship=w.relationship, by=w.reseller_staff
        )
    ),
    "relationship ended by the customer's admin": lambda w: (
        lambda: workflows.customer_relationship_remove(
            relationship=w.relationship, by=w.customer_admin
        )
    ),
    "partnership ended by the provider": lambda w: (
        lambda: workflows.reseller_partnership_remove(
            partnership=w.partnership, by=w.provider_staff
        )
    ),
    "partnership ended by the reseller": lambda w: (
        lambda: workflows.reseller_partnership_remove(
            partnership=w.partnership, by=w.reseller_staff
        )
    ),
    "a request without DAP accepted": lambda w: _accept_without_dap(w),
}


def _accept_without_dap(world: World):
    request = factories.RelationshipRequestFactory(
        partner=world.reseller,
        customer=world.relationship.customer,
        include_delegated_admin=False,
        state=RelationshipRequest.State.PENDING,
    )
    return lambda: relationship_services.relationship_request_accept(
        request=request, by=world.customer_admin
    )


@pytest.mark.parametrize("change", list(CHANGES))
def test_an_assignment_racing_a_change_never_leaves_an_ineligible_contact(change):
    assignments = {"done": 0, "refused": 0}
    for round_number in range(ROUNDS):
        world = _world()
        assignment, other = _race(_assign(world), CHANGES[change](world))
        assert not _unexpected([assignment, other]), (round_number, assignment, other)
        assert other == "done"
        assert _violations() == [], round_number
        assignments[assignment] += 1
        _check_what_fell_back(world, change)
    print(f"{change}: {ROUNDS} rounds, assignments {assignments}")


def _check_what_fell_back(world: World, change: str) -> None:
    """Exactly the subscriptions DOMAIN.md names fall back, and nothing else."""
    world.designated.refresh_from_db()
    world.other_designated.refresh_from_db()
    if change.startswith(("DAP", "relationship")):
        # Every subscription of the customer designated to the reseller, whichever provider.
        assert world.designated.support_contact_id == world.designated.provider_id
        assert world.other_designated.support_contact_id == world.other_designated.provider_id
    elif change.startswith("partnership"):
        # Only the subscriptions of that provider; the other provider's stays.
        assert world.designated.support_contact_id == world.designated.provider_id
        assert world.other_designated.support_contact == world.reseller
    else:
        assert world.designated.support_contact == world.reseller
        relationship = CustomerRelationship.objects.get(pk=world.relationship.pk)
        assert (relationship.state, relationship.delegated_admin) == (
            RelationshipState.ACTIVE,
            True,
        )


def test_two_assignments_and_a_withdrawal_at_once_keep_the_invariant():
    for _ in range(ROUNDS):
        world = _world()
        outcomes = _race(
            _assign(world),
            _assign(world),
            CHANGES["DAP withdrawn by the customer's admin"](world),
            CHANGES["partnership ended by the provider"](world),
        )
        assert not _unexpected(outcomes), outcomes
        assert _violations() == []
