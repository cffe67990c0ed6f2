"""The eligibility rule of DOMAIN.md, through contact_options."""

import pytest

from customers.eligibility import NotListedReason, contact_options, standing_of_resellers
from relationships.models import RelationshipState
from tests import factories

pytestmark = pytest.mark.django_db


def _names(partners):
    return [p.name for p in partners]


def test_demo_world_lists_the_provider_and_fabrikam_only(premium):
    options = contact_options(premium)
    assert _names(options.eligible) == ["Contoso Distribution", "Fabrikam Solutions"]
    # Only the resellers tied to Adatum: Trey Research, with no tie, is found by search.
    assert {(n.partner.name, n.reason) for n in options.not_listed} == {
        ("Northwind Traders IT", NotListedReason.NO_DELEGATED_ADMIN),
        ("Alpine IT Services", NotListedReason.PARTNERSHIP_NOT_ACTIVE),  # requested
        ("Coho Systems", NotListedReason.PARTNERSHIP_NOT_ACTIVE),  # removed
    }
    assert [(s.partner.name, s.reason) for s in standing_of_resellers(premium, "trey")] == [
        ("Trey Research", NotListedReason.NO_RELATIONSHIP)
    ]


def test_the_second_providers_subscription_lists_its_own_resellers_only(adatum):
    dynamics = adatum.subscriptions.get(offer_name="Dynamics 365 Business Central Essentials")
    options = contact_options(dynamics)
    assert _names(options.eligible) == ["Proseware Distribution", "Fabrikam Solutions"]
    assert options.not_listed == []


def _world():
    subscription = factories.SubscriptionFactory()
    reseller = factories.ResellerFactory()
    return subscription, reseller


def test_a_reseller_needs_an_active_partnership_with_the_provider():
    subscription, reseller = _world()
    factories.ResellerPartnershipFactory(
        provider=subscription.provider, reseller=reseller, state=RelationshipState.REQUESTED
    )
    factories.CustomerRelationshipFactory(partner=reseller, customer=subscription.customer)
    options = contact_options(subscription)
    assert reseller not in options.eligible
    assert options.reason_for(reseller) == NotListedReason.PARTNERSHIP_NOT_ACTIVE


def test_a_reseller_the_provider_does_not_know_is_not_mentioned_at_all():
    """The customer's other partners are none of the provider's business."""
    subscription, reseller = _world()
    factories.CustomerRelationshipFactory(partner=reseller, customer=subscription.customer)
    options = contact_options(subscription)
    assert reseller not in options.eligible
    assert options.reason_for(reseller) is None


def test_a_reseller_needs_an_active_relationship_with_the_customer():
    subscription, reseller = _world()
    factories.ResellerPartnershipFactory(provider=subscription.provider, reseller=reseller)
    factories.CustomerRelationshipFactory(
        partner=reseller, customer=subscription.customer, state=RelationshipState.REMOVED
    )
    assert contact_options(subscription).not_listed == []  # no longer tied to the customer
    [standing] = standing_of_resellers(subscription, reseller.partner_id)
    assert standing.reason == NotListedReason.NO_RELATIONSHIP


def test_a_reseller_with_an_open_request_is_listed_with_no_relationship_yet():
    subscription, reseller = _world()
    factories.ResellerPartnershipFactory(provider=subscription.provider, reseller=reseller)
    factories.RelationshipRequestFactory(partner=reseller, customer=subscription.customer)
    assert contact_options(subscription).reason_for(reseller) == NotListedReason.NO_RELATIONSHIP


def test_the_page_lists_only_the_resellers_tied_to_the_customer_however_many_there_are(
    django_assert_max_num_queries,
):
    subscription, tied = _world()
    factories.ResellerPartnershipFactory(provider=subscription.provider, reseller=tied)
    factories.CustomerRelationshipFactory(
        partner=tied, customer=subscription.customer, delegated_admin=False
    )
    for _ in range(30):
        factories.ResellerPartnershipFactory(provider=subscription.provider)
    with django_assert_max_num_queries(1):
        options = contact_options(subscription)
    assert [(n.partner, n.reason) for n in options.not_listed] == [
        (tied, NotListedReason.NO_DELEGATED_ADMIN)
    ]


def test_the_search_answers_in_one_query_at_most_ten_resellers_by_name(
    django_assert_max_num_queries,
):
    subscription, _ = _world()
    resellers = [factories.ResellerFactory(name=f"Match {i:02}") for i in range(12)]
    for reseller in resellers:
        factories.ResellerPartnershipFactory(provider=subscription.provider, reseller=reseller)
    # A removed partnership beside the live one: the reseller is still found once.
    factories.ResellerPartnershipFactory(
        provider=subscription.provider, reseller=resellers[0], state=RelationshipState.REMOVED
    )
    factories.CustomerRelationshipFactory(partner=resellers[1], customer=subscription.customer)
    with django_assert_max_num_queries(1):
        standings = standing_of_resellers(subscription, "match")
    assert [s.partner.name for s in standings] == [f"Match {i:02}" for i in range(10)]
    assert [s.reason for s in standings[:2]] == [NotListedReason.NO_RELATIONSHIP, None]


def test_the_search_finds_only_the_providers_own_resellers():
    subscription, stranger = _world()
    factories.CustomerRelationshipFactory(partner=stranger, customer=subscription.customer)
    assert standing_of_resellers(subscription, stranger.name) == []
    assert standing_of_resellers(subscription, stranger.partner_id) == []


def test_a_reseller_needs_delegated_admin_privileges():
    subscription, reseller = _world()
    factories.ResellerPartnershipFactory(provider=subscription.provider, reseller=reseller)
    factories.CustomerRelationshipFactory(
        partner=reseller, customer=subscription.customer, delegated_admin=False
    )
    assert contact_options(subscription).reason_for(reseller) == (
        NotListedReason.NO_DELEGATED_ADMIN
    )


def test_a_reseller_meeting_all_three_conditions_is_eligible():
    subscription, reseller = _world()
    factories.ResellerPartnershipFactory(provider=subscription.provider, reseller=reseller)
    factories.CustomerRelationshipFactory(partner=reseller, customer=subscription.customer)
    options = contact_options(subscription)
    assert options.eligible == [subscription.provider, reseller]
    assert options.not_listed == []


def test_resellers_with_no_tie_at_all_are_not_mentioned():
    subscription, reseller = _world()
    options = contact_options(subscription)
    assert options.eligible == [subscription.provider]
    assert options.reason_for(reseller) is None


def test_each_subscription_is_judged_by_its_own_provider():
    """Multi-channel: the same customer buys through two providers."""
    first = factories.SubscriptionFactory()
    second = factories.SubscriptionFactory(customer=first.customer)
    reseller = factories.ResellerFactory()
    factories.ResellerPartnershipFactory(provider=first.provider, reseller=reseller)
    factories.CustomerRelationshipFactory(partner=reseller, customer=first.customer)
    assert contact_options(first).is_eligible(reseller)
    assert not contact_options(second).is_eligible(reseller)
    assert _names(contact_options(second).eligible) == [second.provider.name]
