"""Integrity rules that live in the database, and model defaults."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from customers.models import Subscription, SupportContactChange
from partnercenter.models import Partner
from partnercenter.records import RecordIsImmutable
from relationships.models import CustomerRelationship, RelationshipState, ResellerPartnership
from tests import factories

pytestmark = pytest.mark.django_db


def _refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_a_duplicate_partner_tenant_id_is_refused_by_the_database():
    partner = factories.ResellerFactory()
    _refused(lambda: factories.ResellerFactory(tenant_id=partner.tenant_id))


def test_a_duplicate_partner_id_is_refused_by_the_database():
    partner = factories.ResellerFactory()
    _refused(lambda: factories.ResellerFactory(partner_id=partner.partner_id))


def test_a_duplicate_customer_tenant_id_or_domain_is_refused_by_the_database():
    customer = factories.CustomerFactory()
    _refused(lambda: factories.CustomerFactory(tenant_id=customer.tenant_id))
    _refused(lambda: factories.CustomerFactory(domain=customer.domain))


def test_an_unknown_partner_kind_is_refused_by_the_database():
    _refused(lambda: factories.PartnerFactory(kind="wholesaler"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "paused"),
        ("billing_cycle", "weekly"),
        ("term", "P2Y"),
        ("commerce_type", "barter"),
    ],
)
def test_an_unknown_subscription_enumeration_value_is_refused_by_the_database(field, value):
    subscription = factories.SubscriptionFactory()
    _refused(lambda: Subscription.objects.filter(pk=subscription.pk).update(**{field: value}))


def test_at_most_one_live_customer_relationship_per_pair():
    relationship = factories.CustomerRelationshipFactory()
    _refused(
        lambda: factories.CustomerRelationshipFactory(
            partner=relationship.partner, customer=relationship.customer
        )
    )


def test_a_removed_customer_relationship_does_not_block_a_new_one():
    relationship = factories.CustomerRelationshipFactory(state=RelationshipState.REMOVED)
    factories.CustomerRelationshipFactory(
        partner=relationship.partner, customer=relationship.customer
    )
    assert CustomerRelationship.objects.filter(customer=relationship.customer).count() == 2


def test_at_most_one_live_reseller_partnership_per_pair():
    partnership = factories.ResellerPartnershipFactory()
    _refused(
        lambda: factories.ResellerPartnershipFactory(
            provider=partnership.provider, reseller=partnership.reseller
        )
    )


def test_a_partner_cannot_partner_with_itself():
    provider = factories.ProviderFactory()
    _refused(lambda: ResellerPartnership.objects.create(provider=provider, reseller=provider))


def test_at_most_one_pending_relationship_request_per_pair():
    request = factories.RelationshipRequestFactory()
    _refused(
        lambda: factories.RelationshipRequestFactory(
            partner=request.partner, customer=request.customer
        )
    )


def test_invitation_tokens_are_unique_and_unguessable():
    first, second = factories.RelationshipRequestFactory.create_batch(2)
    assert first.token != second.token
    assert len(first.token) >= 40
    _refused(lambda: factories.RelationshipRequestFactory(token=first.token))


def test_a_relationship_request_expires_after_thirty_days():
    request = factories.RelationshipRequestFactory()
    assert (request.expires_at - request.created_at).days == 30
    assert not request.is_expired


def test_a_user_cannot_be_both_partner_staff_and_customer_admin():
    _refused(lambda: factories.StaffUserFactory(customer=factories.CustomerFactory()))


def test_a_role_is_held_at_most_once_and_must_be_known():
    user = factories.StaffUserFactory(roles=["admin_agent"])
    _refused(lambda: factories.RoleAssignmentFactory(user=user, role="admin_agent"))
    _refused(lambda: factories.RoleAssignmentFactory(user=user, role="janitor"))


def test_a_new_subscription_defaults_its_support_contact_to_its_provider():
    subscription = factories.SubscriptionFactory()
    subscription.refresh_from_db()
    assert subscription.support_contact == subscription.provider
    assert subscription.effective_support_contact == subscription.provider
    assert subscription.version == 1


def test_a_subscription_keeps_an_explicit_support_contact():
    reseller = factories.ResellerFactory()
    subscription = factories.SubscriptionFactory(support_contact=reseller)
    subscription.refresh_from_db()
    assert subscription.support_contact == reseller


def test_a_subscription_must_be_billed_through_a_provider():
    subscription = factories.SubscriptionFactory.build(
        customer=factories.CustomerFactory(), provider=factories.ResellerFactory()
    )
    with pytest.raises(Exception, match="indirect provider"):
        subscription.full_clean()


def test_new_commerce_subscriptions_do_not_support_a_designated_contact():
    legacy = factories.SubscriptionFactory()
    new_commerce = factories.SubscriptionFactory(
        commerce_type=Subscription.CommerceType.NEW_COMMERCE
    )
    assert legacy.supports_designated_contact
    assert not new_commerce.supports_designated_contact


def test_history_entries_cannot_be_edited_or_deleted():
    change = factories.SupportContactChangeFactory()
    change.through = SupportContactChange.Through.API
    with pytest.raises(RecordIsImmutable):
        change.save()
    with pytest.raises(RecordIsImmutable):
        change.delete()
    with pytest.raises(RecordIsImmutable):
        SupportContactChange.objects.all().delete()
    with pytest.raises(RecordIsImmutable):
        SupportContactChange.objects.update(through="api")
    assert SupportContactChange.objects.get().through == SupportContactChange.Through.FORM


def test_a_subscription_with_history_cannot_be_deleted():
    change = factories.SupportContactChangeFactory()
    with pytest.raises(ProtectedError):
        change.subscription.delete()


def test_partner_queryset_splits_providers_and_resellers():
    provider = factories.ProviderFactory()
    reseller = factories.ResellerFactory()
    assert list(Partner.objects.providers()) == [provider]
    assert list(Partner.objects.resellers()) == [reseller]
