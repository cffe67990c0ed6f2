"""factory-boy factories for every model."""

import factory
from django.contrib.auth.hashers import make_password

from customers.models import Customer, Subscription, SupportContactChange
from partnercenter.models import Partner, RoleAssignment, User
from relationships.models import (
    CustomerRelationship,
    RelationshipRequest,
    RelationshipState,
    ResellerPartnership,
)

TEST_PASSWORD = "correct-horse-battery-staple"
_HASHED_TEST_PASSWORD = make_password(TEST_PASSWORD)


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    kind = Partner.Kind.INDIRECT_RESELLER
    name = factory.Faker("company")
    partner_id = factory.Sequence(lambda n: f"{6000000 + n}")
    support_email = factory.LazyAttribute(lambda p: f"support@partner{p.partner_id}.example")
    support_phone = "+14255550123"
    support_website = factory.LazyAttribute(lambda p: f"https://partner{p.partner_id}.example")
    support_hours = "Mon–Fri 09:00–17:00"


class ProviderFactory(PartnerFactory):
    kind = Partner.Kind.INDIRECT_PROVIDER


class ResellerFactory(PartnerFactory):
    kind = Partner.Kind.INDIRECT_RESELLER


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"customer{n}.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = _HASHED_TEST_PASSWORD


class StaffUserFactory(UserFactory):
    """Partner staff; `roles=[Role.X, ...]` assigns roles.

    Like the demo users, they may skip two-step verification, so that a global admin made
    here opens pages at once; tests of the requirement pass `two_step_exempt=False`.
    """

    partner = factory.SubFactory(ProviderFactory)
    two_step_exempt = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            RoleAssignment.objects.bulk_create(RoleAssignment(user=self, role=r) for r in extracted)


class CustomerAdminFactory(UserFactory):
    customer = factory.SubFactory(CustomerFactory)


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(StaffUserFactory)
    role = "admin_agent"


class ResellerPartnershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResellerPartnership

    provider = factory.SubFactory(ProviderFactory)
    reseller = factory.SubFactory(ResellerFactory)
    state = RelationshipState.ACTIVE


class CustomerRelationshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerRelationship

    partner = factory.SubFactory(ResellerFactory)
    customer = factory.SubFactory(CustomerFactory)
    state = RelationshipState.ACTIVE
    delegated_admin = True


class RelationshipRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelationshipRequest

    partner = factory.SubFactory(ResellerFactory)
    requested_through = factory.LazyAttribute(lambda r: r.partner)
    customer = factory.SubFactory(CustomerFactory)
    include_delegated_admin = True
    requested_by = factory.SubFactory(
        StaffUserFactory, partner=factory.SelfAttribute("..requested_through")
    )


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    customer = factory.SubFactory(CustomerFactory)
    offer_name = "Office 365 E3"
    nickname = ""
    quantity = 10
    billing_cycle = Subscription.BillingCycle.MONTHLY
    term = Subscription.Term.ONE_YEAR
    commerce_type = Subscription.CommerceType.LEGACY
    provider = factory.SubFactory(ProviderFactory)


class SupportContactChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportContactChange

    subscription = factory.SubFactory(SubscriptionFactory)
    from_contact = factory.LazyAttribute(lambda c: c.subscription.provider)
    to_contact = factory.SubFactory(ResellerFactory)
    changed_by = factory.SubFactory(
        StaffUserFactory, partner=factory.SelfAttribute("..subscription.provider")
    )
    through = SupportContactChange.Through.FORM
