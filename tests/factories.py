"""factory-boy factories for every model."""

from dataclasses import dataclass

import factory
from django.contrib.auth.hashers import make_password

from customers.models import Customer, Subscription, SupportContactChange
from events.models import Event, EventType
from notifications.delivery import envelope
from notifications.models import Delivery, WebhookEndpoint
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


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """A partner's endpoint at a public test address (no lookup leaves the machine for an IP)."""

    class Meta:
        model = WebhookEndpoint

    partner = factory.SubFactory(ProviderFactory)
    url = factory.Sequence(lambda n: f"https://93.184.215.14/partnercenter/{n}")
    description = "PSA tickets"
    event_types = factory.LazyFunction(lambda: [EventType.SUPPORT_CONTACT_CHANGED.value])


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    type = EventType.SUPPORT_CONTACT_CHANGED
    data = factory.LazyFunction(dict)


class DeliveryFactory(factory.django.DjangoModelFactory):
    """A webhook delivery of an event to an endpoint, failed after a day of retries."""

    class Meta:
        model = Delivery

    event = factory.SubFactory(EventFactory)
    channel = Delivery.Channel.WEBHOOK
    endpoint = factory.SubFactory(WebhookEndpointFactory)
    partner = factory.SelfAttribute("endpoint.partner")
    body = factory.LazyAttribute(lambda d: envelope(d.event, {}).decode())
    state = Delivery.State.FAILED
    attempts = 30
    status_code = 503
    error = "HTTP 503"


@dataclass(frozen=True)
class MultichannelWorld:
    """DOMAIN.md's multi-channel shape, small: what the demo world has, built from factories."""

    provider: Partner  # the customer's first provider (Contoso in the demo world)
    second_provider: Partner  # Proseware
    reseller: Partner  # Fabrikam: active partnerships with both providers, DAP for the customer
    customer: Customer  # Adatum: active relationships with both providers and all resellers
    subscription: Subscription  # billed through `provider`, supported by it
    second_subscription: Subscription  # billed through `second_provider`, supported by `reseller`
    requested_reseller: Partner  # Alpine: partnership with `provider` only requested; DAP
    removed_reseller: Partner  # Coho: partnership with `provider` removed; DAP


def multichannel_world() -> MultichannelWorld:
    """A customer buying through two providers, with a reseller both work with, and two
    resellers that hold DAP for the customer but whose partnership is not active."""
    from customers.services import support_contact_assign

    provider, second_provider = ProviderFactory(), ProviderFactory()
    reseller, requested, removed = ResellerFactory(), ResellerFactory(), ResellerFactory()
    for partnership_provider, partnership_reseller, state in (
        (provider, reseller, RelationshipState.ACTIVE),
        (second_provider, reseller, RelationshipState.ACTIVE),
        (provider, requested, RelationshipState.REQUESTED),
        (provider, removed, RelationshipState.REMOVED),
    ):
        ResellerPartnershipFactory(
            provider=partnership_provider, reseller=partnership_reseller, state=state
        )
    customer = CustomerFactory()
    for partner in (provider, second_provider, reseller, requested, removed):
        CustomerRelationshipFactory(partner=partner, customer=customer, delegated_admin=True)
    subscription = SubscriptionFactory(customer=customer, provider=provider)
    second_subscription = SubscriptionFactory(
        customer=customer, provider=second_provider, offer_name="Dynamics 365 Business Central"
    )
    support_contact_assign(
        subscription=second_subscription,
        contact=reseller,
        by=None,
        expected_version=second_subscription.version,
    )
    second_subscription.refresh_from_db()
    return MultichannelWorld(
        provider=provider,
        second_provider=second_provider,
        reseller=reseller,
        customer=customer,
        subscription=subscription,
        second_subscription=second_subscription,
        requested_reseller=requested,
        removed_reseller=removed,
    )
